import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetriable } from '../src/core/http';
import {
  BASE_DELAY,
  type Entry,
  KEY,
  MAX_AGE,
  MAX_ATTEMPTS,
  MAX_DELAY,
  MAX_ENTRY,
  backoff,
  blobToDataUrl,
  createQueue,
  dataUrlToBlob,
  deserialise,
  fitImages,
  serialise,
} from '../src/core/queue';
import { MemoryStorage, SHOT, brokenStorage, fakeEnv, fakeTransport, ok, status } from './helpers';

const T0 = 1_700_000_000_000;
const entry = (over: Partial<Entry> = {}): Entry => ({
  id: 'key-a',
  url: 'https://sayso.example',
  body: { clientId: 'client_1', rating: 4, pageUrl: 'https://shop.example/', pageTitle: 'Shop' },
  n: 1,
  t0: T0,
  at: T0,
  ...over,
});

describe('queue serialisation', () => {
  it('round-trips entries', () => {
    const list = [entry(), entry({ id: 'key-b', img: ['data:image/png;base64,AAAA'] })];
    assert.deepEqual(deserialise(serialise(list)), list);
  });

  it('tolerates corrupt or foreign contents', () => {
    for (const raw of [null, undefined, '', '{', 'null', '42', '"x"', '{"a":1}', 'undefined', '[1,2', '\u0000']) {
      assert.deepEqual(deserialise(raw as string), [], String(raw));
    }
  });

  it('drops malformed entries and keeps the good ones', () => {
    const good = entry();
    const raw = JSON.stringify([
      good,
      null,
      7,
      { ...good, id: 3 },
      { ...good, body: null },
      { ...good, body: { rating: 1 } },
      { ...good, n: '1' },
      { ...good, at: undefined },
      { ...good, img: 'data:' },
      { ...good, img: [1] },
    ]);
    assert.deepEqual(deserialise(raw), [good]);
  });
});

describe('backoff', () => {
  it('is exponential from ~2 s, capped at 5 min, jittered within [d/2, d]', () => {
    for (let n = 1; n <= 30; n++) {
      const d = Math.min(MAX_DELAY, BASE_DELAY * 2 ** (n - 1));
      const lo = backoff(n, () => 0);
      const hi = backoff(n, () => 0.999999);
      assert.equal(lo, d / 2, `n=${n} low`);
      assert.ok(hi <= d && hi > d * 0.99, `n=${n} high ${hi} vs ${d}`);
      for (let i = 0; i < 20; i++) {
        const x = backoff(n, Math.random);
        assert.ok(x >= d / 2 && x <= d, `n=${n}: ${x}`);
      }
    }
    assert.equal(backoff(1, () => 1), 2000);
    assert.equal(backoff(30, () => 1), 300000);
    assert.equal(BASE_DELAY, 2000);
    assert.equal(MAX_DELAY, 300000);
    assert.equal(MAX_ATTEMPTS, 20);
    assert.equal(MAX_AGE, 7 * 24 * 3600 * 1000);
  });
});

describe('which failures are retried', () => {
  it('network error, 5xx, 408 and 429 are retried', () => {
    for (const s of [0, 408, 429, 500, 502, 503, 504]) assert.equal(isRetriable(s), true, String(s));
  });
  it('other 4xx (and success) are not', () => {
    for (const s of [200, 400, 401, 403, 404, 409, 413, 422]) assert.equal(isRetriable(s), false, String(s));
  });
});

describe('data URLs', () => {
  it('round-trip a blob', async () => {
    const bytes = new Uint8Array(70000).map((_, i) => (i * 7) % 256);
    const d = await blobToDataUrl(new Blob([bytes], { type: 'image/png' }));
    assert.match(d, /^data:image\/png;base64,/);
    const back = dataUrlToBlob(d);
    assert.equal(back.type, 'image/png');
    assert.deepEqual(new Uint8Array(await back.arrayBuffer()), bytes);
  });

  it('keeps images only while the entry stays under ~1.5 MB', () => {
    const small = 'data:image/png;base64,' + 'A'.repeat(1000);
    const big = 'data:image/png;base64,' + 'A'.repeat(MAX_ENTRY);
    assert.deepEqual(fitImages(entry(), [small]).img, [small]);
    assert.ok(!('img' in fitImages(entry(), [big])));
    assert.deepEqual(fitImages(entry(), [small, big, small]).img, [small]);
    assert.ok(serialise([fitImages(entry(), [small, small])]).length < MAX_ENTRY);
  });
});

describe('Queue', () => {
  it('put stores the entry under sayso:queue and arms a timer', () => {
    const { transport } = fakeTransport([]);
    const { env, storage, timers } = fakeEnv({ transport });
    const q = createQueue(env);
    assert.equal(q.put(entry({ at: T0 + 5000 })), true);
    assert.deepEqual(deserialise(storage.getItem(KEY)), [entry({ at: T0 + 5000 })]);
    assert.equal(timers.length, 1);
    assert.ok(timers[0].ms >= 5000 && timers[0].ms < 6000);
  });

  it('put fails (returns false) when storage is unavailable or throws', () => {
    const { transport } = fakeTransport([]);
    assert.equal(createQueue(fakeEnv({ transport, storage: () => null }).env).put(entry()), false);
    assert.equal(createQueue(fakeEnv({ transport, storage: () => brokenStorage }).env).put(entry()), false);
    assert.deepEqual(createQueue(fakeEnv({ transport, storage: () => brokenStorage }).env).read(), []);
  });

  it('put replaces corrupt contents instead of failing', () => {
    const { transport } = fakeTransport([]);
    const { env, storage } = fakeEnv({ transport });
    storage.setItem(KEY, '{not json');
    assert.equal(createQueue(env).put(entry()), true);
    assert.equal(deserialise(storage.getItem(KEY)).length, 1);
  });

  it('put retries without the images when storage is full', () => {
    const { transport } = fakeTransport([]);
    const s = new MemoryStorage();
    const full = { ...s, getItem: (k: string) => s.getItem(k), removeItem: (k: string) => s.removeItem(k), setItem: (k: string, v: string) => {
      if (v.length > 1000) throw new Error('QuotaExceededError');
      s.setItem(k, v);
    } };
    const q = createQueue(fakeEnv({ transport, storage: () => full }).env);
    assert.equal(q.put(entry({ img: ['data:image/png;base64,' + 'A'.repeat(5000)] })), true);
    assert.ok(!('img' in q.read()[0]));
  });

  it('drain delivers due entries with their own Idempotency-Key and removes them', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const { env, storage } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ id: 'k1' }));
    q.put(entry({ id: 'k2' }));
    await q.drain();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map((c) => c.headers['Idempotency-Key']), ['k1', 'k2']);
    assert.equal(calls[0].url, 'https://sayso.example/api/feedback');
    assert.deepEqual(JSON.parse(calls[0].body as string), entry().body);
    assert.equal(storage.getItem(KEY), null);
  });

  it('drain skips entries that are not due yet (unless forced, as on `online`)', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const { env, clock } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ at: T0 + 60000 }));
    await q.drain();
    assert.equal(calls.length, 0);
    clock.t += 60000;
    await q.drain();
    assert.equal(calls.length, 1);
    q.put(entry({ id: 'k2', at: clock.t + 999999 }));
    await q.drain(true);
    assert.equal(calls.length, 2);
  });

  for (const s of [0, 500, 503, 408, 429]) {
    it(`a ${s || 'network error'} keeps the entry, counts the attempt and backs off`, async () => {
      const { transport, calls } = fakeTransport([status(s)]);
      const { env, clock } = fakeEnv({ transport });
      const q = createQueue(env);
      q.put(entry({ n: 3 }));
      await q.drain();
      const [e] = q.read();
      assert.equal(e.n, 4);
      assert.equal(e.id, 'key-a');
      const d = Math.min(MAX_DELAY, BASE_DELAY * 2 ** 3);
      assert.ok(e.at - clock.t >= d / 2 && e.at - clock.t <= d);
      await q.drain(); // not due yet
      assert.equal(calls.length, 1);
    });
  }

  for (const s of [400, 403, 404, 409, 413]) {
    it(`a ${s} drops the entry`, async () => {
      const { transport, calls } = fakeTransport([status(s, 'nope')]);
      const { env } = fakeEnv({ transport });
      const q = createQueue(env);
      q.put(entry());
      await q.drain();
      assert.equal(calls.length, 1);
      assert.deepEqual(q.read(), []);
    });
  }

  it('the same key is sent on every retry until delivered', async () => {
    const { transport, calls } = fakeTransport([status(0), status(503), status(429), ok()]);
    const { env, clock } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ id: 'same' }));
    for (let i = 0; i < 4; i++) {
      await q.drain();
      clock.t += MAX_DELAY + 1;
    }
    assert.deepEqual(calls.map((c) => c.headers['Idempotency-Key']), ['same', 'same', 'same', 'same']);
    assert.deepEqual(q.read(), []);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts`, async () => {
    const { transport, calls } = fakeTransport([status(0)]);
    const { env, clock } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ n: 1 }));
    for (let i = 0; i < 40; i++) {
      await q.drain();
      clock.t += MAX_DELAY + 1;
    }
    assert.equal(calls.length, MAX_ATTEMPTS - 1); // the first attempt was made before queueing
    assert.deepEqual(q.read(), []);
  });

  it('drops entries older than 7 days without sending them', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const { env, clock } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry());
    clock.t += MAX_AGE + 1;
    await q.drain();
    assert.equal(calls.length, 0);
    assert.deepEqual(q.read(), []);
  });

  it('keeps backing off in memory when storage stops taking writes', async () => {
    const { transport, calls } = fakeTransport([status(0)]);
    const s = new MemoryStorage();
    let writable = true;
    const flaky = { getItem: (k: string) => s.getItem(k), removeItem: (k: string) => s.removeItem(k), setItem: (k: string, v: string) => {
      if (!writable) throw new Error('QuotaExceededError');
      s.setItem(k, v);
    } };
    const { env } = fakeEnv({ transport, storage: () => flaky });
    const q = createQueue(env);
    q.put(entry());
    writable = false;
    await q.drain();
    await q.drain();
    await q.drain();
    assert.equal(calls.length, 1);
  });

  it('uploads queued images first, then sends the feedback with them', async () => {
    const img = await blobToDataUrl(new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' }));
    const { transport, calls } = fakeTransport([ok({ success: true, screenshot: SHOT }), ok()]);
    const { env } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ img: [img] }));
    await q.drain();
    assert.deepEqual(calls.map((c) => c.url), ['https://sayso.example/api/screenshots', 'https://sayso.example/api/feedback']);
    const form = calls[0].body as FormData;
    assert.equal(form.get('clientId'), 'client_1');
    const file = form.get('screenshot') as Blob;
    assert.equal(file.type, 'image/png');
    assert.equal(file.size, 4);
    assert.equal(calls[0].timeout, 30000);
    assert.deepEqual(JSON.parse(calls[1].body as string).screenshots, [SHOT]);
    assert.deepEqual(q.read(), []);
  });

  it('a failed image upload is retried later, before the feedback', async () => {
    const { transport, calls } = fakeTransport([status(503)]);
    const { env } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ img: ['data:image/png;base64,iVBORw=='] }));
    await q.drain();
    assert.deepEqual(calls.map((c) => c.url), ['https://sayso.example/api/screenshots']);
    const [e] = q.read();
    assert.equal(e.n, 2);
    assert.equal(e.img!.length, 1);
  });

  it('an image the server refuses is dropped and the feedback still sent', async () => {
    const { transport, calls } = fakeTransport([status(400, 'File must be an image'), ok()]);
    const { env } = fakeEnv({ transport });
    const q = createQueue(env);
    q.put(entry({ img: ['data:image/png;base64,AAAA'] }));
    await q.drain();
    assert.equal(calls.length, 2);
    assert.ok(!('screenshots' in JSON.parse(calls[1].body as string)));
    assert.deepEqual(q.read(), []);
  });

  it("doesn't lose an entry another tab queued during a drain", async () => {
    const { env, storage } = fakeEnv({ transport: async () => ({ status: 0, data: null }) });
    let other: ReturnType<typeof createQueue>;
    env.transport = async () => {
      other.put(entry({ id: 'from-other-tab' })); // another tab writes meanwhile
      return { status: 200, data: { feedbackId: 'x' } };
    };
    other = createQueue({ ...env });
    const q = createQueue(env);
    q.put(entry({ id: 'mine' }));
    await q.drain();
    assert.deepEqual(deserialise(storage.getItem(KEY)).map((e) => e.id), ['from-other-tab']);
  });

  it('ignores corrupt storage when draining', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const { env, storage } = fakeEnv({ transport });
    storage.setItem(KEY, '[{"id":1},"x",');
    await createQueue(env).drain();
    assert.equal(calls.length, 0);
  });
});
