/**
 * A session's chunks on their way to the server: PUT …/chunks/{seq}, gzip when the browser
 * can, at most a few at a time, retried with backoff, the losses counted into the next
 * chunk's X-Usero-Dropped-Before; on pagehide everything left goes with keepalive, and a page
 * that leaves before its session start was answered hands its chunks to the tab's next page.
 */
import { isOk as ok, isRetriable as retriable } from '../core/http';
import type { ReplayOptions } from '../types';
import { MAX_TRIES, type ReplayEnv, retryDelay } from './env';
import { LEFT_KEY, read, write } from './storage';

export const MAX_COMPRESSED = 4 * 1024 * 1024;
export const MAX_INFLIGHT = 3;
/** Chunks kept while the session is not yet accepted or uploads keep failing; older ones are dropped. */
export const MAX_WAITING = 50;
/** keepalive requests share a 64 KB quota per page: bodies up to this size use it. */
export const KEEPALIVE_MAX = 60000;
/** At most this much JSON is kept for the next page. */
const MAX_LEFT = 1000000;

export interface Chunk {
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

export interface Uploads {
  /** Queues a cut chunk (the oldest waiting ones are dropped past MAX_WAITING). */
  add(c: Chunk): void;
  /** Starts what may go now. */
  pump(): void;
  /** The page is going: everything left, with keepalive, at once. */
  sendAll(id: string): void;
  /** The page is going before the session start was answered: keep the chunks for the next page. */
  leave(): void;
  /** Queues what the tab's previous page left, ahead of this page's chunks. */
  takeLeft(): void;
  /** Forgets everything (the session stopped). */
  clear(): void;
}

/** ``session.id()`` is the accepted session, or null while uploads must wait (or not happen). */
export function createUploads(
  o: ReplayOptions,
  env: ReplayEnv,
  base: string,
  session: { id: () => string | null; stop: () => void },
): Uploads {
  let waiting: Chunk[] = [];
  /** Chunks being uploaded right now. */
  const busy = new Set<Chunk>();
  /** chunks dropped since the last successful upload */
  let dropped = 0;
  let wake: unknown = null;
  let cleared = false;

  const drop = (c: Chunk) => {
    dropped++;
    waiting = waiting.filter((w) => w !== c);
  };

  const url = (id: string, c: Chunk) => `${base}/${encodeURIComponent(id)}/chunks/${c.seq}`;

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

  async function upload(id: string, c: Chunk): Promise<void> {
    if (c.body === undefined) {
      try {
        c.body = env.gzip ? await env.gzip(c.json) : c.json;
      } catch {
        c.body = c.json;
      }
      if (cleared) return;
    }
    if (c.body.length > MAX_COMPRESSED) return drop(c);
    const d = dropped;
    // keepalive when it fits: a navigation then can't cancel the upload (see sendAll())
    c.k = c.body.length <= KEEPALIVE_MAX;
    const r = await env.send('PUT', url(id, c), c.body, headers(c, d), c.k);
    if (ok(r.status)) {
      dropped = Math.max(0, dropped - d);
      waiting = waiting.filter((w) => w !== c);
    } else if (r.status === 409) {
      session.stop(); // finalised or refused session: the server wants no more
    } else if (retriable(r.status) && ++c.tries < MAX_TRIES) {
      const ms = retryDelay(c.tries, env.random);
      c.at = env.now() + ms;
      schedule(ms);
    } else {
      drop(c);
    }
  }

  function pump(): void {
    const id = session.id();
    if (!id) return;
    const now = env.now();
    for (const c of waiting) {
      if (busy.size >= MAX_INFLIGHT) break;
      if (busy.has(c) || c.at > now) continue;
      busy.add(c);
      void upload(id, c).finally(() => {
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

  return {
    add(c) {
      waiting.push(c);
      while (waiting.length > MAX_WAITING) drop(waiting.find((w) => !busy.has(w)) || waiting[0]);
    },

    pump,

    sendAll(id) {
      for (const c of waiting) {
        // under way with keepalive: it outlives the page; otherwise the unload cancels it, so
        // again (the server takes a seq it already has as a no-op)
        if (busy.has(c) && c.k) continue;
        // no time to compress: plain JSON (the server takes both)
        void env.send('PUT', url(id, c), c.body ?? c.json, headers(c, dropped), true);
      }
      waiting = [];
    },

    leave() {
      let size = 0;
      const kept = waiting
        .map(({ seq, json, n, ms }) => ({ seq, json, n, ms }))
        .filter((c) => (size += c.json.length) <= MAX_LEFT);
      if (kept.length) write(env.session, LEFT_KEY, JSON.stringify(kept));
    },

    takeLeft() {
      const raw = read(env.session, LEFT_KEY);
      if (!raw) return;
      write(env.session, LEFT_KEY, '');
      try {
        const left = JSON.parse(raw) as Chunk[];
        waiting.unshift(...left.map((c) => ({ ...c, tries: 0, at: 0 })));
      } catch {
        // corrupt: nothing to send
      }
    },

    clear() {
      cleared = true;
      waiting = [];
      if (wake) env.clearTimer(wake);
    },
  };
}
