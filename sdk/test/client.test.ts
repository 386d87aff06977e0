import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCore, uuid } from '../src/core/client';
import { SaysoError } from '../src/core/http';
import { KEY, MAX_ENTRY, deserialise } from '../src/core/queue';
import { SHOT, brokenStorage, fakeEnv, fakeTransport, ok, status } from './helpers';

const png = (n = 8) => new Blob([new Uint8Array(n)], { type: 'image/png' });

describe('submit', () => {
  it('POSTs the payload as JSON with Accept, Content-Type and an Idempotency-Key', async () => {
    const { transport, calls } = fakeTransport([ok({ success: true, feedbackId: '01HXYZ' })]);
    const core = createCore(fakeEnv({ transport }).env);
    const res = await core.submit({ clientId: 'client_1', rating: 4, comment: 'Great' });
    assert.deepEqual(res, { feedbackId: '01HXYZ', queued: false, idempotencyKey: 'key-1' });
    assert.equal(calls.length, 1);
    const [c] = calls;
    assert.equal(c.url, 'https://sayso.example/api/feedback');
    assert.deepEqual(c.headers, { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': 'key-1' });
    assert.equal(c.timeout, 10000);
    const body = JSON.parse(c.body as string);
    assert.equal(body.clientId, 'client_1');
    assert.equal(body.rating, 4);
    assert.equal(body.comment, 'Great');
    assert.equal(body.pageUrl, 'https://shop.example/cart?x=1');
    assert.equal(body.pageTitle, 'Cart');
  });

  it('uses the given baseUrl (trailing slash trimmed) and idempotency key', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const core = createCore(fakeEnv({ transport }).env);
    await core.submit({ clientId: 'c', rating: 1, baseUrl: 'https://other.example/sayso/', idempotencyKey: 'mine' });
    assert.equal(calls[0].url, 'https://other.example/sayso/api/feedback');
    assert.equal(calls[0].headers['Idempotency-Key'], 'mine');
  });

  for (const s of [0, 500, 503, 408, 429]) {
    it(`${s || 'a network error'}: queued in sayso:queue with the same key, reported as queued`, async () => {
      const { transport } = fakeTransport([status(s)]);
      const { env, storage, timers, clock } = fakeEnv({ transport });
      const res = await createCore(env).submit({ clientId: 'c', rating: 2 });
      assert.deepEqual(res, { feedbackId: null, queued: true, idempotencyKey: 'key-1' });
      const [e] = deserialise(storage.getItem(KEY));
      assert.equal(e.id, 'key-1');
      assert.equal(e.n, 1);
      assert.equal(e.body.rating, 2);
      assert.ok(e.at - clock.t >= 1000 && e.at - clock.t <= 2000);
      assert.equal(timers.length, 1, 'retried on a timer while the page is open');
    });
  }

  it('a retried submission reaches the server with the same key', async () => {
    const { transport, calls } = fakeTransport([status(0), ok()]);
    const { env, clock } = fakeEnv({ transport });
    const core = createCore(env);
    await core.submit({ clientId: 'c', rating: 3 });
    clock.t += 5000;
    await core.queue.drain();
    assert.equal(calls.length, 2);
    assert.equal(calls[0].headers['Idempotency-Key'], calls[1].headers['Idempotency-Key']);
    assert.equal(calls[0].body, calls[1].body);
    assert.deepEqual(core.queue.read(), []);
  });

  for (const [s, msg] of [
    [400, 'Invalid data provided'],
    [403, 'Domain not allowed'],
    [404, 'Unknown clientId: c'],
    [413, 'Request body too large (max 1,048,576 bytes)'],
  ] as const) {
    it(`${s}: not queued, rejected with the server's message`, async () => {
      const { transport } = fakeTransport([status(s, msg)]);
      const { env, storage } = fakeEnv({ transport });
      await assert.rejects(createCore(env).submit({ clientId: 'c', rating: 1 }), (e: SaysoError) => {
        assert.ok(e instanceof SaysoError);
        assert.equal(e.message, msg);
        assert.equal(e.status, s);
        assert.equal(e.retriable, false);
        assert.equal(e.server, msg, 'the UI shows the server string');
        return true;
      });
      assert.equal(storage.getItem(KEY), null);
    });
  }

  it('a 4xx without a JSON error still gives a readable message', async () => {
    const { transport } = fakeTransport([status(418)]);
    await assert.rejects(createCore(fakeEnv({ transport }).env).submit({ clientId: 'c', rating: 1 }), (e: SaysoError) => {
      assert.match(e.message, /HTTP 418/);
      assert.equal(e.server, undefined, 'the UI shows its own localized message instead');
      return true;
    });
  });

  it('without storage it tries exactly once and rejects', async () => {
    for (const storage of [() => null, () => brokenStorage]) {
      const { transport, calls } = fakeTransport([status(0)]);
      const { env } = fakeEnv({ transport, storage });
      await assert.rejects(createCore(env).submit({ clientId: 'c', rating: 1 }), (e: SaysoError) => e.retriable && e.status === 0);
      assert.equal(calls.length, 1);
    }
  });

  it('requires a clientId', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    await assert.rejects(createCore(fakeEnv({ transport }).env).submit({} as never), /clientId/);
    assert.equal(calls.length, 0);
  });

  it('uploads files first and sends their screenshot objects unchanged', async () => {
    const { transport, calls } = fakeTransport([ok({ success: true, screenshot: SHOT }), ok()]);
    const res = await createCore(fakeEnv({ transport }).env).submit({ clientId: 'c', rating: 4, screenshots: [{ ...SHOT, fileName: 'c/first.png' }], files: [png()] });
    assert.equal(res.queued, false);
    assert.deepEqual(JSON.parse(calls[1].body as string).screenshots, [{ ...SHOT, fileName: 'c/first.png' }, SHOT]);
  });

  it('a failed screenshot upload queues the feedback with the image as a data URL', async () => {
    const { transport, calls } = fakeTransport([status(0)]);
    const { env, storage } = fakeEnv({ transport });
    const res = await createCore(env).submit({ clientId: 'c', rating: 4, files: [png(16)] });
    assert.equal(res.queued, true);
    assert.equal(calls.length, 1, 'no feedback request while its screenshot is pending');
    const [e] = deserialise(storage.getItem(KEY));
    assert.equal(e.img!.length, 1);
    assert.match(e.img![0], /^data:image\/png;base64,/);
  });

  it('an image too big for the queue is left out; the feedback is queued without it', async () => {
    const { transport } = fakeTransport([status(503)]);
    const { env, storage } = fakeEnv({ transport });
    const res = await createCore(env).submit({ clientId: 'c', rating: 4, files: [png(MAX_ENTRY)] });
    assert.equal(res.queued, true);
    const [e] = deserialise(storage.getItem(KEY));
    assert.ok(!('img' in e));
  });

  it('a screenshot the server refuses rejects the submission', async () => {
    const { transport, calls } = fakeTransport([status(400, 'File must be an image')]);
    await assert.rejects(createCore(fakeEnv({ transport }).env).submit({ clientId: 'c', rating: 4, files: [png()] }), /File must be an image/);
    assert.equal(calls.length, 1);
  });
});

describe('uploadScreenshot', () => {
  it('POSTs multipart fields screenshot + clientId and returns the screenshot object', async () => {
    const { transport, calls } = fakeTransport([ok({ success: true, screenshot: SHOT })]);
    const shot = await createCore(fakeEnv({ transport }).env).uploadScreenshot({ clientId: 'client_1' }, png());
    assert.deepEqual(shot, SHOT);
    assert.equal(calls[0].url, 'https://sayso.example/api/screenshots');
    assert.equal(calls[0].timeout, 30000);
    const form = calls[0].body as FormData;
    assert.equal(form.get('clientId'), 'client_1');
    assert.ok(form.get('screenshot') instanceof Blob);
    assert.ok(!('Content-Type' in calls[0].headers), 'the browser sets the multipart boundary');
  });

  it("rejects with the server's error", async () => {
    const { transport } = fakeTransport([status(400, 'File must be an image')]);
    await assert.rejects(createCore(fakeEnv({ transport }).env).uploadScreenshot({ clientId: 'c' }, png()), (e: SaysoError) => e.message === 'File must be an image' && !e.retriable);
  });

  it('a 200 without a screenshot object is an error', async () => {
    const { transport } = fakeTransport([ok({ success: true })]);
    await assert.rejects(createCore(fakeEnv({ transport }).env).uploadScreenshot({ clientId: 'c' }, png()));
  });
});

describe('uuid', () => {
  const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  it('uses crypto.randomUUID', () => {
    assert.match(uuid(), V4);
    assert.equal(uuid({ randomUUID: () => 'r', getRandomValues: crypto.getRandomValues.bind(crypto) } as never), 'r');
  });
  it('falls back to getRandomValues (insecure contexts)', () => {
    const c = { getRandomValues: <T extends ArrayBufferView>(a: T) => crypto.getRandomValues(a as never) as T };
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const u = uuid(c as never);
      assert.match(u, V4);
      seen.add(u);
    }
    assert.equal(seen.size, 200);
  });
});
