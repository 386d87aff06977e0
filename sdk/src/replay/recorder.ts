/**
 * The session-replay protocol (Usero's, see docs/widget.md), without the DOM: session
 * start, chunking, uploads with retries, finalise. rrweb, fetch, gzip, storage, clock
 * and timers are injected, so all of it runs in node tests.
 */
import { type HttpResult, isOk as ok, isRetriable as retriable } from '../core/http';
import type { StorageLike } from '../core/queue';
import type { ReplayLink, ReplayOptions, User } from '../types';

/** Sends one request; never rejects (failures resolve with status 0). */
export type ReplaySend = (
  method: 'POST' | 'PUT',
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
  keepalive: boolean,
) => Promise<HttpResult>;

export interface ReplayEnv {
  send: ReplaySend;
  /** gzip via CompressionStream; absent where the browser has none (chunks then go as plain JSON). */
  gzip?: (s: string) => Promise<Uint8Array>;
  /** navigator.sendBeacon; false when the browser refused to queue it. */
  beacon: (url: string, body: string) => boolean;
  /** sessionStorage / localStorage, or null when unavailable. */
  session: StorageLike | null;
  local: StorageLike | null;
  now: () => number;
  random: () => number;
  uuid: () => string;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
  href: () => string;
  userAgent: string;
  /** Called once when recording must stop for good (409, refused session, stop()). */
  onStop: () => void;
}

/** rrweb events only need a timestamp here. */
export interface ReplayEvent {
  timestamp: number;
}

export interface Recorder {
  /** Buffers an rrweb event; cuts a chunk at the count / size thresholds. */
  add(e: ReplayEvent): void;
  /**
   * Announces the session (POST /api/replay-sessions, retried); resolves with whether it was
   * accepted. Then identifies the `user` option, if any.
   */
  start(): Promise<boolean>;
  /** Cuts a chunk from what is buffered and uploads it. */
  flush(): void;
  /** The page is going away: everything left goes out with keepalive, then the finalise beacon. */
  end(): void;
  /** Stops for good (events are dropped from now on). */
  stop(): void;
  /**
   * The host app's user changed: POST /api/identify once the session start has been answered
   * (not for the same user twice, failures retried, nothing once stopped). null (logout)
   * rotates the anonymousId and sends nothing.
   */
  identify(u: User | null | undefined): void;
  link(): ReplayLink | undefined;
  readonly id: string | null;
  readonly stopped: boolean;
}

/** Tab-session state, persisted in sessionStorage so that a reload continues the session. */
interface State {
  /** sdkSessionId */
  s: string;
  /** sampled in (1) or out (0), decided once */
  k: 0 | 1;
  /** next chunk seq */
  q: number;
  /** first recorded event (ms) */
  t?: number;
}

interface Chunk {
  seq: number;
  json: string;
  n: number;
  ms: number;
  tries: number;
  /** not before (ms) */
  at: number;
  body?: string | Uint8Array;
  /** sent with keepalive (it outlives the page) */
  k?: boolean;
}

export const SESSION_KEY = 'sayso:replay';
export const ANON_KEY = 'sayso:anon';
/** The last identify the server accepted (it names clientId and anonymousId). */
export const WHO_KEY = 'sayso:who';
export const CHUNK_EVERY = 3000;
export const MAX_EVENTS = 1000;
export const MAX_BYTES = 500000;
export const MAX_COMPRESSED = 4 * 1024 * 1024;
export const MAX_INFLIGHT = 3;
export const MAX_TRIES = 5;
/** Chunks kept while the session is not yet accepted or uploads keep failing; older ones are dropped. */
export const MAX_WAITING = 50;
/** Chunks a page could not send (left before its session start was answered), for the tab's next page. */
export const LEFT_KEY = 'sayso:replay:left';
/** keepalive requests share a 64 KB quota per page: bodies up to this size use it. */
export const KEEPALIVE_MAX = 60000;
/** At most this much JSON is kept for the next page. */
const MAX_LEFT = 1000000;

const read = (st: StorageLike | null, k: string): string | null => {
  try {
    return st && st.getItem(k);
  } catch {
    return null;
  }
};
const write = (st: StorageLike | null, k: string, v: string): void => {
  try {
    st?.setItem(k, v);
  } catch {
    // full or blocked: this page keeps its state in memory
  }
};

/** Retry delay after n failed attempts: 1 s · 2^(n-1), at most 30 s, jittered into [d/2, d]. */
export function retryDelay(n: number, random: () => number): number {
  const d = Math.min(30000, 1000 * 2 ** Math.max(0, n - 1));
  return d / 2 + (random() * d) / 2;
}

/** Loads (or creates) the tab's session state; the sampling decision is taken here, once. */
export function loadState(env: Pick<ReplayEnv, 'session' | 'random' | 'uuid'>, rate: number | undefined): State {
  try {
    const v = JSON.parse(read(env.session, SESSION_KEY) || 'null');
    if (typeof v?.s == 'string' && (v.k === 0 || v.k === 1) && Number.isInteger(v.q) && v.q >= 0) return v;
  } catch {
    // corrupt: start over
  }
  // NaN / undefined / >= 1: record; <= 0: never
  const st: State = { s: env.uuid(), k: !((rate as number) < 1) || env.random() < (rate as number) ? 1 : 0, q: 0 };
  write(env.session, SESSION_KEY, JSON.stringify(st));
  return st;
}

/** The recorder for one page, or null when this tab session is sampled out. */
export function createRecorder(o: ReplayOptions, env: ReplayEnv): Recorder | null {
  if (!o?.clientId) throw new Error('Sayso: clientId is required');
  const st = loadState(env, o.replaySampleRate);
  if (!st.k) return null;
  const api = `${(o.baseUrl || '').replace(/\/+$/, '')}/api/`;
  const base = `${api}replay-sessions`;
  const save = () => write(env.session, SESSION_KEY, JSON.stringify(st));

  let id: string | null = null;
  let stopped = false;
  let ended = false;
  let buf: string[] = [];
  let first = 0;
  let last = 0;
  let bytes = 0;
  let waiting: Chunk[] = [];
  /** Chunks being uploaded right now. */
  const busy = new Set<Chunk>();
  /** chunks dropped since the last successful upload */
  let dropped = 0;
  let tick: unknown = null;
  let wake: unknown = null;

  /** When localStorage is unavailable: one id for this page. */
  let anon = '';
  const anonymousId = (): string => {
    let a = read(env.local, ANON_KEY) || anon;
    if (!a) write(env.local, ANON_KEY, (a = env.uuid()));
    return (anon = a);
  };
  /** The identify in progress (or done) on this page; null after a logout. */
  let who: { b: string } | null = null;
  /** The session start (start()), which identify waits for. */
  let ready: Promise<boolean> | undefined;
  /** Someone was identified on this page (so a logout rotates the anonymousId). */
  let known = false;

  async function identify(u: User | null | undefined): Promise<void> {
    if (!u) {
      // logout: the next person on this browser gets a new anonymousId (nobody was known: nothing to do)
      if (known || read(env.local, WHO_KEY)) {
        write(env.local, ANON_KEY, (anon = env.uuid()));
        write(env.local, WHO_KEY, '');
        who = null;
        known = false;
      }
      return;
    }
    if (stopped || !(u.id || u.email || u.name)) return;
    known = true;
    // JSON drops the absent fields
    const b = JSON.stringify({ clientId: o.clientId, anonymousId: anonymousId(), externalUserId: u.id, email: u.email, displayName: u.name });
    // the same person again, on this page or (accepted) on an earlier one
    if (b === who?.b || b === read(env.local, WHO_KEY)) return;
    const me = (who = { b });
    // After the session start has been answered: the server then has the session's row to fill in
    // (an identify racing the start could miss it, and the session would show nobody).
    await ready;
    for (let n = 1; who === me && !stopped; n++) {
      // text/plain: no preflight (the server reads the body as JSON whatever the type)
      const r = await env.send('POST', `${api}identify`, b, { 'Content-Type': 'text/plain;charset=UTF-8' }, true);
      if (ok(r.status) && r.data?.accepted === true) return write(env.local, WHO_KEY, b);
      if ((!ok(r.status) && !retriable(r.status)) || n >= MAX_TRIES) break;
      await new Promise((res) => env.setTimer(res as () => void, retryDelay(n, env.random)));
    }
    if (who === me) who = null; // given up: a later identify() may try again
  }

  const drop = (c: Chunk) => {
    dropped++;
    waiting = waiting.filter((w) => w !== c);
  };

  function cut(): void {
    if (!buf.length) return;
    const c: Chunk = { seq: st.q++, json: `[${buf.join(',')}]`, n: buf.length, ms: Math.max(0, last - first), tries: 0, at: 0 };
    save();
    buf = [];
    bytes = 0;
    waiting.push(c);
    while (waiting.length > MAX_WAITING) drop(waiting.find((w) => !busy.has(w)) || waiting[0]);
  }

  const headers = (c: Chunk, d: number): Record<string, string> => {
    const h: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'X-Usero-Client-Id': o.clientId,
      'X-Usero-Event-Count': String(c.n),
      'X-Usero-Duration-Ms': String(c.ms),
    };
    if (d) h['X-Usero-Dropped-Before'] = String(d);
    return h;
  };

  async function upload(c: Chunk): Promise<void> {
    if (c.body === undefined) {
      try {
        c.body = env.gzip ? await env.gzip(c.json) : c.json;
      } catch {
        c.body = c.json;
      }
      if (stopped) return;
    }
    if (c.body.length > MAX_COMPRESSED) return drop(c);
    const d = dropped;
    // keepalive when it fits: a navigation then can't cancel the upload (see end())
    c.k = c.body.length <= KEEPALIVE_MAX;
    const r = await env.send('PUT', `${base}/${encodeURIComponent(id as string)}/chunks/${c.seq}`, c.body, headers(c, d), c.k);
    if (ok(r.status)) {
      dropped = Math.max(0, dropped - d);
      waiting = waiting.filter((w) => w !== c);
    } else if (r.status === 409) {
      stop(); // finalised or refused session: the server wants no more
    } else if (retriable(r.status) && ++c.tries < MAX_TRIES) {
      const ms = retryDelay(c.tries, env.random);
      c.at = env.now() + ms;
      schedule(ms);
    } else {
      drop(c);
    }
  }

  function pump(): void {
    if (stopped || !id || ended) return;
    const now = env.now();
    for (const c of waiting) {
      if (busy.size >= MAX_INFLIGHT) break;
      if (busy.has(c) || c.at > now) continue;
      busy.add(c);
      void upload(c).finally(() => {
        busy.delete(c);
        pump();
      });
    }
  }

  function schedule(ms: number): void {
    if (wake) env.clearTimer(wake);
    wake = env.setTimer(() => {
      wake = null;
      pump();
    }, Math.max(0, ms));
  }

  function every(): void {
    tick = env.setTimer(() => {
      cut();
      pump();
      every();
    }, CHUNK_EVERY);
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    buf = [];
    waiting = [];
    if (tick) env.clearTimer(tick);
    if (wake) env.clearTimer(wake);
    env.onStop();
  }

  const finalise = () => {
    const url = `${base}/${encodeURIComponent(id as string)}/finalise`;
    const body = JSON.stringify({ clientId: o.clientId, endedAt: new Date(env.now()).toISOString() });
    if (!env.beacon(url, body)) void env.send('POST', url, body, { 'Content-Type': 'text/plain;charset=UTF-8' }, true);
  };

  function end(): void {
    if (stopped || ended) return;
    cut();
    if (!id) return leave();
    ended = true; // no more uploads from pump(): what is left goes now
    for (const c of waiting) {
      // under way with keepalive: it outlives the page; otherwise the unload cancels it, so again
      // (the server takes a seq it already has as a no-op)
      if (busy.has(c) && c.k) continue;
      // no time to compress: plain JSON (the server takes both)
      const body = c.body ?? c.json;
      void env.send('PUT', `${base}/${encodeURIComponent(id)}/chunks/${c.seq}`, body, headers(c, dropped), true);
    }
    waiting = [];
    finalise();
  }

  /** The page is going before the session start was answered: its chunks wait for the tab's next page. */
  function leave(): void {
    let size = 0;
    const kept = waiting
      .map(({ seq, json, n, ms }) => ({ seq, json, n, ms }))
      .filter((c) => (size += c.json.length) <= MAX_LEFT);
    if (kept.length) write(env.session, LEFT_KEY, JSON.stringify(kept));
  }

  /** What the tab's previous page left (see leave()), queued ahead of this page's chunks. */
  function takeLeft(): void {
    const raw = read(env.session, LEFT_KEY);
    if (!raw) return;
    write(env.session, LEFT_KEY, '');
    try {
      const left = JSON.parse(raw) as Chunk[];
      waiting.unshift(...left.map((c) => ({ ...c, tries: 0, at: 0 })));
    } catch {
      // corrupt: nothing to send
    }
  }

  /** Announces the session (POST /api/replay-sessions, retried); resolves with whether it was accepted. */
  async function open(): Promise<boolean> {
    const body = JSON.stringify({
      clientId: o.clientId,
      sdkSessionId: st.s,
      anonymousId: anonymousId(),
      startUrl: env.href(),
      userAgent: env.userAgent,
      startedAt: new Date(st.t ?? env.now()).toISOString(),
    });
    for (let n = 1; !stopped; n++) {
      const r = await env.send('POST', base, body, { 'Content-Type': 'application/json', Accept: 'application/json' }, false);
      const a = r.data?.accepted;
      if (ok(r.status) && typeof a == 'boolean') {
        if (a && typeof r.data.sessionReplayId == 'string' && r.data.sessionReplayId) {
          id = r.data.sessionReplayId;
          takeLeft();
          pump();
          return true;
        }
        break; // refused (bot, quota, …): stop for the rest of this page's life
      }
      // a 2xx without a boolean `accepted` is a failure too (a proxy's page, say): retried
      if ((!ok(r.status) && !retriable(r.status)) || n >= MAX_TRIES) break;
      await new Promise((res) => env.setTimer(res as () => void, retryDelay(n, env.random)));
    }
    stop();
    return false;
  }

  every();

  return {
    get id() {
      return id;
    },
    get stopped() {
      return stopped;
    },

    add(e) {
      if (stopped || typeof e?.timestamp != 'number') return;
      if (ended) return; // back from the back/forward cache: the session was finalised
      let s: string;
      try {
        s = JSON.stringify(e);
      } catch {
        return;
      }
      if (st.t === undefined) {
        st.t = e.timestamp;
        save();
      }
      if (!buf.length) first = e.timestamp;
      last = e.timestamp;
      buf.push(s);
      bytes += s.length;
      if (buf.length >= MAX_EVENTS || bytes >= MAX_BYTES) {
        cut();
        pump();
      }
    },

    start() {
      const p = (ready = open());
      if (o.user) void identify(o.user);
      return p;
    },

    flush() {
      cut();
      pump();
    },

    end,

    stop() {
      if (stopped) return;
      if (id && !ended) end();
      stop();
    },

    identify(u) {
      void identify(u);
    },

    link() {
      return id
        ? { sessionReplayId: id, replayOffsetMs: Math.max(0, Math.round(env.now() - (st.t ?? env.now()))) }
        : undefined;
    },
  };
}
