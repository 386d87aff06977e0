import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createCore } from '../src/core/client';
import type { HttpResult } from '../src/core/http';
import {
  ANON_KEY,
  CHUNK_EVERY,
  MAX_COMPRESSED,
  MAX_TRIES,
  SESSION_KEY,
  type ReplayEnv,
  WHO_KEY,
  createRecorder,
  loadState,
  retryDelay,
} from '../src/replay/recorder';
import type { ReplayOptions } from '../src/types';
import { MemoryStorage, fakeEnv, fakeTransport, ok } from './helpers';

interface Req {
  method: string;
  url: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
  keepalive: boolean;
}

const T0 = 1_700_000_000_000;
const BASE = 'https://sayso.example/api/replay-sessions';
const IDENTIFY = 'https://sayso.example/api/identify';
const accepted = (id = 'rs_1'): HttpResult => ({ status: 200, data: { accepted: true, sessionReplayId: id } });
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

/**
 * A recorder world: fake clock and timers, storages that survive "reloads", and a
 * server answering with `answer(req)` (default: accept the session, 200 for the rest).
 */
function world(answer?: (r: Req) => HttpResult | Promise<HttpResult>) {
  const clock = { t: T0 };
  let timers: { fn: () => void; at: number }[] = [];
  const reqs: Req[] = [];
  const beacons: { url: string; body: string }[] = [];
  const session = new MemoryStorage();
  const local = new MemoryStorage();
  let n = 0;
  let stops = 0;
  const w = {
    clock,
    reqs,
    beacons,
    session,
    local,
    beaconOk: true,
    gzip: true as boolean,
    random: 0.5,
    get stops() {
      return stops;
    },
    env(): ReplayEnv {
      return {
        send: async (method, url, body, headers, keepalive) => {
          const r = { method, url, body, headers, keepalive };
          reqs.push(r);
          if (answer) return answer(r);
          if (url === IDENTIFY) return { status: 200, data: { accepted: true } };
          return method === 'POST' && url === BASE ? accepted() : { status: 200, data: null };
        },
        gzip: w.gzip ? async (s) => new Uint8Array(gzipSync(s)) : undefined,
        beacon: (url, body) => {
          beacons.push({ url, body });
          return w.beaconOk;
        },
        session,
        local,
        now: () => clock.t,
        random: () => w.random,
        uuid: () => `uuid-${++n}`,
        setTimer: (fn, ms) => {
          const t = { fn, at: clock.t + ms };
          timers.push(t);
          return t;
        },
        clearTimer: (t) => {
          timers = timers.filter((x) => x !== t);
        },
        href: () => 'https://shop.example/cart',
        userAgent: 'Mozilla/5.0 Test',
        onStop: () => stops++,
      };
    },
    /** Advances the clock, firing due timers in order, letting promises settle in between. */
    async run(ms: number) {
      const end = clock.t + ms;
      for (;;) {
        await settle();
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        clock.t = Math.max(clock.t, due.at);
        due.fn();
      }
      clock.t = end;
      await settle();
    },
    recorder(o: Partial<ReplayOptions> = {}) {
      return createRecorder({ clientId: 'client_1', baseUrl: 'https://sayso.example/', ...o }, w.env());
    },
    chunks: () => reqs.filter((r) => r.method === 'PUT'),
    identifies: () => reqs.filter((r) => r.url === IDENTIFY).map((r) => JSON.parse(r.body as string)),
  };
  return w;
}

const ev = (timestamp: number, data: unknown = {}) => ({ type: 3, timestamp, data });
const events = (r: Req): { timestamp: number }[] =>
  JSON.parse(typeof r.body == 'string' ? r.body : gunzipSync(r.body).toString());

describe('replay session start', () => {
  it('POSTs clientId, sdkSessionId, anonymousId, startUrl, userAgent, startedAt', async () => {
    const w = world();
    const rec = w.recorder()!;
    rec.add(ev(T0 - 5));
    assert.equal(await rec.start(), true);
    assert.equal(rec.id, 'rs_1');
    const [r] = w.reqs;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, BASE);
    assert.equal(r.headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body as string), {
      clientId: 'client_1',
      sdkSessionId: 'uuid-1',
      anonymousId: 'uuid-2',
      startUrl: 'https://shop.example/cart',
      userAgent: 'Mozilla/5.0 Test',
      startedAt: new Date(T0 - 5).toISOString(),
    });
    assert.equal(w.local.getItem(ANON_KEY), 'uuid-2');
  });

  it('a reload in the same tab sends the same sdkSessionId and anonymousId, and continues seq and offset', async () => {
    const w = world();
    const a = w.recorder()!;
    a.add(ev(T0));
    await a.start();
    await w.run(CHUNK_EVERY);
    a.add(ev(T0 + 3500));
    a.flush();
    await settle();
    assert.deepEqual(
      w.chunks().map((r) => r.url),
      [`${BASE}/rs_1/chunks/0`, `${BASE}/rs_1/chunks/1`],
    );
    // reload: same storages, a new recorder
    const b = w.recorder()!;
    b.add(ev(w.clock.t + 1));
    await b.start();
    const posts = w.reqs.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body as string));
    assert.equal(posts[1].sdkSessionId, posts[0].sdkSessionId);
    assert.equal(posts[1].anonymousId, posts[0].anonymousId);
    assert.equal(posts[1].startedAt, new Date(T0).toISOString(), 'the session started before the reload');
    b.flush();
    await settle();
    assert.equal(w.chunks().at(-1)!.url, `${BASE}/rs_1/chunks/2`);
    w.clock.t = T0 + 60000;
    assert.deepEqual(b.link(), { sessionReplayId: 'rs_1', replayOffsetMs: 60000 });
  });

  it('accepted: false stops recording for the page: no chunks, no link', async () => {
    const w = world((r) => (r.url === BASE ? { status: 200, data: { accepted: false, dropReason: 'bot' } } : ok()));
    const rec = w.recorder()!;
    rec.add(ev(T0));
    assert.equal(await rec.start(), false);
    assert.equal(rec.stopped, true);
    assert.equal(w.stops, 1);
    rec.add(ev(T0 + 1));
    await w.run(10 * CHUNK_EVERY);
    assert.equal(w.reqs.length, 1);
    assert.equal(rec.link(), undefined);
  });

  it('a non-2xx or a body without a boolean accepted is retried with backoff, 5 attempts in all', async () => {
    let n = 0;
    const w = world(() => (++n % 2 ? { status: 503, data: null } : { status: 200, data: { ok: true } }));
    const rec = w.recorder()!;
    const started = rec.start();
    await w.run(120000);
    assert.equal(await started, false);
    assert.equal(w.reqs.length, 5);
    assert.equal(rec.stopped, true);
  });

  it('succeeds on a later attempt', async () => {
    let n = 0;
    const w = world((r) => (r.method === 'POST' && ++n < 3 ? { status: 0, data: null } : r.method === 'POST' ? accepted('rs_9') : ok()));
    const rec = w.recorder()!;
    rec.add(ev(T0));
    const started = rec.start();
    await w.run(10000);
    assert.equal(await started, true);
    assert.equal(rec.id, 'rs_9');
    assert.equal(w.chunks()[0].url, `${BASE}/rs_9/chunks/0`, 'chunks cut before acceptance are sent after it');
  });

  it('a final 4xx stops at once', async () => {
    const w = world(() => ({ status: 403, data: { error: 'Domain not allowed' } }));
    const rec = w.recorder()!;
    assert.equal(await rec.start(), false);
    assert.equal(w.reqs.length, 1);
  });

  it('works without storage (a new session per page)', async () => {
    const w = world();
    const env = { ...w.env(), session: null, local: null };
    const rec = createRecorder({ clientId: 'c', baseUrl: 'https://sayso.example' }, env)!;
    assert.equal(await rec.start(), true);
  });
});

describe('replay sampling', () => {
  it('is decided once per tab session and remembered', () => {
    const w = world();
    w.random = 0.7;
    assert.equal(w.recorder({ replaySampleRate: 0.5 }), null);
    w.random = 0.1;
    assert.equal(w.recorder({ replaySampleRate: 0.5 }), null, 'still sampled out after a reload');
    assert.equal(w.recorder({ replaySampleRate: 1 }), null, 'even with another rate');
    const w2 = world();
    w2.random = 0.3;
    assert.ok(w2.recorder({ replaySampleRate: 0.5 }));
    w2.random = 0.99;
    assert.ok(w2.recorder({ replaySampleRate: 0.5 }));
  });

  it('0 never records, 1 / missing / NaN always do', () => {
    const st = (rate: number | undefined, random = 0) => {
      const w = world();
      return loadState({ session: w.session, random: () => random, uuid: () => 'u' }, rate).k;
    };
    assert.equal(st(0), 0);
    assert.equal(st(-1), 0);
    assert.equal(st(1, 0.999), 1);
    assert.equal(st(undefined, 0.999), 1);
    assert.equal(st(NaN, 0.999), 1);
    assert.equal(st(0.25, 0.2), 1);
    assert.equal(st(0.25, 0.3), 0);
  });

  it('corrupt stored state starts a new session', () => {
    const w = world();
    w.session.setItem(SESSION_KEY, '{"s":1}');
    assert.equal(loadState({ session: w.session, random: () => 0, uuid: () => 'fresh' }, 1).s, 'fresh');
  });
});

describe('replay chunks', () => {
  it('every 3 s: PUT …/chunks/{seq}, gzip JSON array, the X-Usero-* headers', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0, { a: 1 }));
    rec.add(ev(T0 + 1200, { a: 2 }));
    await w.run(CHUNK_EVERY - 1);
    assert.equal(w.chunks().length, 0);
    await w.run(1);
    const [c] = w.chunks();
    assert.equal(c.url, `${BASE}/rs_1/chunks/0`);
    assert.ok(c.body instanceof Uint8Array);
    assert.deepEqual(events(c), [ev(T0, { a: 1 }), ev(T0 + 1200, { a: 2 })]);
    assert.deepEqual(c.headers, {
      'Content-Type': 'application/octet-stream',
      'X-Usero-Client-Id': 'client_1',
      'X-Usero-Event-Count': '2',
      'X-Usero-Duration-Ms': '1200',
    });
    assert.equal(c.keepalive, true, 'a small chunk outlives the page (a navigation cannot cancel it)');
    await w.run(5 * CHUNK_EVERY);
    assert.equal(w.chunks().length, 1, 'nothing buffered, nothing sent');
    rec.add(ev(T0 + 20000));
    await w.run(CHUNK_EVERY);
    assert.equal(w.chunks()[1].url, `${BASE}/rs_1/chunks/1`);
  });

  it('plain JSON where CompressionStream is missing', async () => {
    const w = world();
    w.gzip = false;
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0));
    rec.flush();
    await settle();
    assert.equal(typeof w.chunks()[0].body, 'string');
    assert.deepEqual(events(w.chunks()[0]), [ev(T0)]);
  });

  it('sooner at 1,000 events or ~500 KB', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    for (let i = 0; i < 1000; i++) rec.add(ev(T0 + i));
    await settle();
    assert.equal(w.chunks().length, 1);
    assert.equal(w.chunks()[0].headers['X-Usero-Event-Count'], '1000');
    const big = 'x'.repeat(100000);
    for (let i = 0; i < 5; i++) rec.add(ev(T0 + 2000 + i, big));
    await settle();
    assert.equal(w.chunks().length, 2);
    assert.equal(w.chunks()[1].headers['X-Usero-Event-Count'], '5');
  });

  it('retries 5xx / 408 / 429 / network errors with jittered backoff, same seq, then drops and says so', async () => {
    const failures = [503, 0, 429, 408, 500];
    const w = world((r) => (r.method === 'POST' ? accepted() : r.url.endsWith('/chunks/0') ? { status: failures[(w.chunks().length - 1) % 5], data: null } : ok()));
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0));
    rec.flush();
    await settle();
    assert.equal(w.chunks().length, 1);
    await w.run(499);
    assert.equal(w.chunks().length, 1, 'first retry not before 0.5 s');
    await w.run(501);
    assert.equal(w.chunks().length, 2, 'and not after 1 s');
    await w.run(60000);
    assert.equal(w.chunks().length, 5, '5 attempts in all');
    assert.ok(w.chunks().every((c) => c.url.endsWith('/chunks/0')));
    rec.add(ev(T0 + 70000));
    rec.flush();
    await settle();
    const next = w.chunks()[5];
    assert.ok(next.url.endsWith('/chunks/1'));
    assert.equal(next.headers['X-Usero-Dropped-Before'], '1');
    rec.add(ev(T0 + 80000));
    rec.flush();
    await settle();
    assert.equal(w.chunks()[6].headers['X-Usero-Dropped-Before'], undefined, 'reset by a success');
  });

  it('retryDelay doubles from 1 s to at most 30 s, jittered into [d/2, d]', () => {
    assert.equal(retryDelay(1, () => 0), 500);
    assert.equal(retryDelay(1, () => 1), 1000);
    assert.equal(retryDelay(3, () => 1), 4000);
    assert.equal(retryDelay(20, () => 1), 30000);
    assert.equal(retryDelay(20, () => 0), 15000);
  });

  it('other 4xx are not retried: the chunk is dropped', async () => {
    const w = world((r) => (r.method === 'POST' ? accepted() : r.url.endsWith('/0') ? { status: 413, data: null } : ok()));
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0));
    rec.flush();
    await w.run(60000);
    assert.equal(w.chunks().length, 1);
    rec.add(ev(T0 + 1));
    rec.flush();
    await settle();
    assert.equal(w.chunks()[1].headers['X-Usero-Dropped-Before'], '1');
    assert.equal(rec.stopped, false);
  });

  it('409 stops the session for good', async () => {
    const w = world((r) => (r.method === 'POST' ? accepted() : { status: 409, data: { error: 'finalised' } }));
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0));
    rec.flush();
    await settle();
    assert.equal(rec.stopped, true);
    assert.equal(w.stops, 1);
    rec.add(ev(T0 + 1));
    rec.flush();
    rec.end();
    await w.run(60000);
    assert.equal(w.chunks().length, 1);
    assert.equal(w.beacons.length, 0);
  });

  it('at most 3 uploads in flight', async () => {
    const pending: ((r: HttpResult) => void)[] = [];
    const w = world((r) => (r.method === 'POST' ? accepted() : new Promise((res) => pending.push(res))));
    const rec = w.recorder()!;
    await rec.start();
    for (let i = 0; i < 5; i++) {
      rec.add(ev(T0 + i));
      rec.flush();
    }
    await settle();
    assert.equal(w.chunks().length, 3);
    pending.shift()!(ok());
    await settle();
    assert.equal(w.chunks().length, 4);
    while (pending.length) {
      pending.shift()!(ok());
      await settle();
    }
    assert.deepEqual(
      w.chunks().map((c) => c.url.split('/').pop()),
      ['0', '1', '2', '3', '4'],
    );
  });

  it('keeps at most 50 chunks waiting (e.g. before acceptance): the oldest are dropped and reported', async () => {
    const w = world();
    const rec = w.recorder()!;
    for (let i = 0; i < 60; i++) {
      rec.add(ev(T0 + i));
      rec.flush();
    }
    await rec.start();
    await w.run(1000);
    const seqs = w.chunks().map((c) => Number(c.url.split('/').pop()));
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 10));
    assert.equal(w.chunks()[0].headers['X-Usero-Dropped-Before'], '10');
  });

  it('drops a chunk over 4 MB compressed without sending it', async () => {
    const w = world();
    w.gzip = false;
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0, 'x'.repeat(MAX_COMPRESSED)));
    await settle();
    assert.equal(w.chunks().length, 0);
    rec.add(ev(T0 + 1));
    rec.flush();
    await settle();
    assert.equal(w.chunks()[0].headers['X-Usero-Dropped-Before'], '1');
  });
});

describe('replay end', () => {
  it('on pagehide: what is left goes with keepalive, then finalise {clientId, endedAt} by beacon', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0));
    w.clock.t = T0 + 1500;
    rec.end();
    await settle();
    const [c] = w.chunks();
    assert.equal(c.keepalive, true);
    assert.deepEqual(events(c), [ev(T0)]);
    assert.deepEqual(w.beacons, [{ url: `${BASE}/rs_1/finalise`, body: JSON.stringify({ clientId: 'client_1', endedAt: new Date(T0 + 1500).toISOString() }) }]);
    rec.add(ev(T0 + 2000));
    await w.run(10 * CHUNK_EVERY);
    assert.equal(w.chunks().length, 1, 'nothing after the end');
    assert.deepEqual(rec.link(), { sessionReplayId: 'rs_1', replayOffsetMs: 10 * CHUNK_EVERY + 1500 });
  });

  it('falls back to a keepalive fetch when the beacon is refused', async () => {
    const w = world();
    w.beaconOk = false;
    const rec = w.recorder()!;
    await rec.start();
    rec.end();
    await settle();
    const f = w.reqs.at(-1)!;
    assert.equal(f.method, 'POST');
    assert.equal(f.url, `${BASE}/rs_1/finalise`);
    assert.equal(f.keepalive, true);
    assert.equal(JSON.parse(f.body as string).clientId, 'client_1');
  });

  it('stop() ends the session and stops rrweb', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    rec.stop();
    assert.equal(w.stops, 1);
    assert.equal(w.beacons.length, 1);
  });

  it('nothing to finalise before the session was accepted', () => {
    const w = world();
    const rec = w.recorder()!;
    rec.add(ev(T0));
    rec.end();
    assert.equal(w.beacons.length, 0);
    assert.equal(w.reqs.length, 0);
  });

  it("what a page left before its start was answered goes with the tab's next page, first", async () => {
    const w = world();
    const gone = w.recorder()!;
    gone.add(ev(T0));
    gone.end(); // the start (never called here) had no answer yet
    const next = w.recorder()!; // the same tab: same sessionStorage
    next.add(ev(T0 + 5000));
    await next.start();
    await w.run(CHUNK_EVERY);
    const sent = w.chunks();
    assert.deepEqual(sent.map((c) => c.url), [`${BASE}/rs_1/chunks/0`, `${BASE}/rs_1/chunks/1`]);
    assert.deepEqual(events(sent[0]), [ev(T0)]);
    assert.deepEqual(events(sent[1]), [ev(T0 + 5000)]);
    const again = w.recorder()!;
    await again.start();
    await w.run(CHUNK_EVERY);
    assert.equal(w.chunks().length, 2, 'sent once');
  });

  it('on pagehide, a chunk under way without keepalive goes again with it (the unload would cancel it)', async () => {
    const w = world((r) =>
      r.method === 'PUT' ? new Promise<HttpResult>(() => {}) : r.url === BASE ? accepted() : { status: 200, data: null },
    );
    const rec = w.recorder()!;
    await rec.start();
    rec.add(ev(T0, { big: 'x'.repeat(200000) })); // gzip makes it small: keepalive
    rec.add(ev(T0 + 1));
    w.gzip = false;
    const plain = w.recorder()!; // a new page of the same tab, without CompressionStream
    await plain.start();
    plain.add(ev(T0 + 2, { big: 'y'.repeat(70000) })); // over the keepalive quota as plain JSON
    plain.flush();
    await settle();
    const before = w.chunks().length;
    plain.end();
    await settle();
    const resent = w.chunks().slice(before);
    assert.equal(resent.length, 1);
    assert.equal(resent[0].keepalive, true);
    assert.equal(resent[0].url, w.chunks()[before - 1].url);
  });
});

describe('feedback links to the replay', () => {
  it('submit() adds sessionReplayId and replayOffsetMs while recording', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const link = { sessionReplayId: 'rs_1', replayOffsetMs: 4200 };
    const core = createCore(fakeEnv({ transport, replay: () => link }).env);
    await core.submit({ clientId: 'c', rating: 3 });
    const body = JSON.parse(calls[0].body as string);
    assert.equal(body.sessionReplayId, 'rs_1');
    assert.equal(body.replayOffsetMs, 4200);
    await core.submit({ clientId: 'c', rating: 3, sessionReplayId: 'mine', replayOffsetMs: 7 });
    assert.equal(JSON.parse(calls[1].body as string).sessionReplayId, 'mine', 'explicit values win');
  });

  it('nothing is added without a recording', async () => {
    const { transport, calls } = fakeTransport([ok()]);
    const core = createCore(fakeEnv({ transport, replay: () => undefined }).env);
    await core.submit({ clientId: 'c', rating: 3 });
    const body = JSON.parse(calls[0].body as string);
    assert.ok(!('sessionReplayId' in body) && !('replayOffsetMs' in body));
  });
});

describe('replay identify', () => {
  const ALICE = { id: 'u_1', email: 'alice@example.com', name: 'Alice' };

  it('at start, the init user goes to POST /api/identify with the session\'s anonymousId: keepalive, text/plain', async () => {
    const w = world();
    const rec = w.recorder({ user: ALICE })!;
    await rec.start();
    await settle();
    const r = w.reqs.find((q) => q.url === IDENTIFY)!;
    assert.equal(r.method, 'POST');
    assert.equal(r.keepalive, true);
    assert.equal(r.headers['Content-Type'], 'text/plain;charset=UTF-8');
    const anonymousId = JSON.parse(w.reqs.find((q) => q.url === BASE)!.body as string).anonymousId;
    assert.equal(anonymousId, w.local.getItem(ANON_KEY));
    assert.deepEqual(w.identifies(), [
      { clientId: 'client_1', anonymousId, externalUserId: 'u_1', email: 'alice@example.com', displayName: 'Alice' },
    ]);
  });

  it('absent fields are left out; no user, or one without id / email / name, sends nothing', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    await settle();
    rec.identify({});
    await settle();
    assert.deepEqual(w.identifies(), []);
    rec.identify({ email: 'bob@example.com' });
    await settle();
    assert.deepEqual(w.identifies(), [{ clientId: 'client_1', anonymousId: 'uuid-2', email: 'bob@example.com' }]);
  });

  it('sent again when the user changes, not when it is the same (on this page or, once accepted, after a reload)', async () => {
    const w = world();
    const rec = w.recorder({ user: ALICE })!;
    await rec.start();
    await settle();
    rec.identify({ ...ALICE });
    await settle();
    assert.equal(w.identifies().length, 1);
    rec.identify({ ...ALICE, name: 'Alice B.' });
    await settle();
    assert.deepEqual(
      w.identifies().map((b) => b.displayName),
      ['Alice', 'Alice B.'],
    );
    rec.identify({ ...ALICE, name: 'Alice B.' });
    await settle();
    assert.equal(w.identifies().length, 2);
    // a reload: the same person, the same anonymousId → nothing new
    await w.recorder({ user: { ...ALICE, name: 'Alice B.' } })!.start();
    assert.equal(w.identifies().length, 2);
    assert.equal(JSON.parse(w.local.getItem(WHO_KEY)!).displayName, 'Alice B.');
  });

  it('a failure is retried with the recorder\'s backoff, at most 5 attempts; a final 4xx is not', async () => {
    const w = world((r) => (r.url === IDENTIFY ? { status: 503, data: null } : r.url === BASE ? accepted() : ok()));
    const rec = w.recorder({ user: ALICE })!;
    await rec.start();
    await settle();
    assert.equal(w.identifies().length, 1);
    await w.run(400); // retryDelay(1) with random 0.5 = 750 ms
    assert.equal(w.identifies().length, 1);
    await w.run(400);
    assert.equal(w.identifies().length, 2);
    await w.run(60000);
    assert.equal(w.identifies().length, MAX_TRIES);
    assert.equal(w.local.getItem(WHO_KEY), null, 'not remembered as sent');

    const v = world((r) => (r.url === IDENTIFY ? { status: 400, data: null } : r.url === BASE ? accepted() : ok()));
    await v.recorder({ user: ALICE })!.start();
    await v.run(60000);
    assert.equal(v.identifies().length, 1);
  });

  it('succeeds on a retry (a 2xx without accepted: true counts as a failure); a newer user cancels the old retries', async () => {
    let n = 0;
    const w = world((r) =>
      r.url === IDENTIFY ? (++n < 3 ? { status: 200, data: {} } : { status: 200, data: { accepted: true } }) : r.url === BASE ? accepted() : ok(),
    );
    const rec = w.recorder({ user: ALICE })!;
    await rec.start();
    await settle();
    await w.run(60000);
    assert.equal(w.identifies().length, 3);
    assert.ok(w.local.getItem(WHO_KEY));

    const v = world((r) => (r.url === IDENTIFY ? { status: 0, data: null } : r.url === BASE ? accepted() : ok()));
    const other = v.recorder({ user: ALICE })!;
    await other.start();
    await settle();
    other.identify({ id: 'u_2' });
    await v.run(60000);
    const sent = v.identifies().map((b) => b.externalUserId);
    assert.equal(sent.filter((x) => x === 'u_1').length, 1, 'Alice is not retried once Bob is there');
    assert.equal(sent.filter((x) => x === 'u_2').length, MAX_TRIES);
  });

  it('identify(null) (logout) rotates the anonymousId and sends nothing; the next user goes with the new id', async () => {
    const w = world();
    const rec = w.recorder({ user: ALICE })!;
    await rec.start();
    await settle();
    const before = w.local.getItem(ANON_KEY);
    const count = w.reqs.length;
    rec.identify(null);
    await settle();
    assert.equal(w.reqs.length, count, 'nothing sent');
    const after = w.local.getItem(ANON_KEY);
    assert.ok(after && after !== before);
    rec.identify(ALICE); // logs in again: the same person under the new id is sent
    await settle();
    assert.deepEqual(
      w.identifies().map((b) => b.anonymousId),
      [before, after],
    );
    // a reload then starts its session under the new id
    await w.recorder()!.start();
    assert.equal(JSON.parse(w.reqs.filter((q) => q.url === BASE).at(-1)!.body as string).anonymousId, after);
  });

  it('identify(null) with nobody identified keeps the anonymousId', async () => {
    const w = world();
    const rec = w.recorder()!;
    await rec.start();
    await settle();
    const before = w.local.getItem(ANON_KEY);
    rec.identify(null);
    assert.equal(w.local.getItem(ANON_KEY), before);
  });

  it('without localStorage: the anonymousId stays the same within the page, and rotates in memory', async () => {
    const w = world();
    const rec = createRecorder({ clientId: 'client_1', baseUrl: 'https://sayso.example', user: ALICE }, { ...w.env(), local: null })!;
    await rec.start();
    await settle();
    const start = JSON.parse(w.reqs.find((q) => q.url === BASE)!.body as string).anonymousId;
    assert.equal(w.identifies()[0].anonymousId, start);
    rec.identify(null);
    rec.identify(ALICE);
    await settle();
    assert.notEqual(w.identifies()[1].anonymousId, start);
  });

  it('the standalone handle: startReplay({user}) options and handle.identify() once the recording is stopped', async () => {
    const w = world();
    const rec = w.recorder({ user: { id: 'u_9' } })!;
    await rec.start();
    await settle();
    assert.deepEqual(w.identifies(), [{ clientId: 'client_1', anonymousId: 'uuid-2', externalUserId: 'u_9' }]);
    rec.stop();
    rec.identify({ id: 'u_10' });
    await settle();
    assert.equal(w.identifies().length, 1, 'nothing is sent once recording stopped');
  });

  it('identify waits for the session start to be answered; a refused or sampled-out session sends none', async () => {
    let answer!: (r: HttpResult) => void;
    const u = world((r) => (r.url === BASE ? new Promise<HttpResult>((res) => (answer = res)) : { status: 200, data: { accepted: true } }));
    const pending = u.recorder({ user: ALICE })!;
    const started = pending.start();
    pending.identify({ id: 'u_2' });
    await settle();
    assert.deepEqual(u.identifies(), [], 'nothing before the session start is answered');
    answer(accepted());
    await started;
    await settle();
    assert.deepEqual(
      u.identifies().map((b) => b.externalUserId),
      ['u_2'],
      'the latest user only',
    );

    const w = world((r) => (r.url === BASE ? { status: 200, data: { accepted: false } } : { status: 200, data: { accepted: true } }));
    const rec = w.recorder({ user: ALICE })!;
    assert.equal(await rec.start(), false);
    rec.identify({ id: 'u_2' });
    await settle();
    assert.equal(w.identifies().length, 0);
    const v = world();
    assert.equal(v.recorder({ user: ALICE, replaySampleRate: 0 }), null);
    assert.equal(v.reqs.length, 0);
  });
});
