/**
 * The session-replay protocol (Usero's, see docs/widget.md), without the DOM: session
 * start, chunking, uploads with retries, finalise. rrweb, fetch, gzip, storage, clock
 * and timers are injected, so all of it runs in node tests.
 */
import { isOk as ok, isRetriable as retriable } from '../core/http';
import type { ReplayLink, ReplayOptions, User } from '../types';
import { MAX_TRIES, type ReplayEnv, retryDelay } from './env';
import { createIdentity } from './identity';
import { SESSION_KEY, loadState, write } from './storage';
import { createUploads } from './uploads';

export type { ReplayEnv, ReplaySend } from './env';
export { MAX_TRIES, retryDelay } from './env';
export { MAX_COMPRESSED } from './uploads';
export { ANON_KEY, LEFT_KEY, SESSION_KEY, WHO_KEY, loadState } from './storage';

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


export const CHUNK_EVERY = 3000;
export const MAX_EVENTS = 1000;
export const MAX_BYTES = 500000;
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
  let tick: unknown = null;

  /** The session start (start()), which identify waits for. */
  let ready: Promise<boolean> | undefined;
  const people = createIdentity(o, env, api, () => ready, () => stopped);
  const uploads = createUploads(o, env, base, {
    id: () => (stopped || ended ? null : id),
    stop: () => stop(),
  });
  const pump = () => uploads.pump();

  function cut(): void {
    if (!buf.length) return;
    uploads.add({ seq: st.q++, json: `[${buf.join(',')}]`, n: buf.length, ms: Math.max(0, last - first), tries: 0, at: 0 });
    save();
    buf = [];
    bytes = 0;
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
    uploads.clear();
    if (tick) env.clearTimer(tick);
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
    if (!id) return uploads.leave();
    ended = true; // no more uploads from pump(): what is left goes now
    uploads.sendAll(id);
    finalise();
  }

  /** Announces the session (POST /api/replay-sessions, retried); resolves with whether it was accepted. */
  async function open(): Promise<boolean> {
    const body = JSON.stringify({
      clientId: o.clientId,
      sdkSessionId: st.s,
      anonymousId: people.anonymousId(),
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
          uploads.takeLeft();
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
      if (o.user) void people.identify(o.user);
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
      void people.identify(u);
    },

    link() {
      return id
        ? { sessionReplayId: id, replayOffsetMs: Math.max(0, Math.round(env.now() - (st.t ?? env.now()))) }
        : undefined;
    },
  };
}
