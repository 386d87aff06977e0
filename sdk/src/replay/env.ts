/**
 * What the recorder is given (so all of it runs in node tests) and its retry policy.
 */
import type { HttpResult } from '../core/http';
import type { StorageLike } from '../core/queue';

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

/** Attempts per request (session start, identify, a chunk) before giving up. */
export const MAX_TRIES = 5;

/** Retry delay after n failed attempts: 1 s · 2^(n-1), at most 30 s, jittered into [d/2, d]. */
export function retryDelay(n: number, random: () => number): number {
  const d = Math.min(30000, 1000 * 2 ** Math.max(0, n - 1));
  return d / 2 + (random() * d) / 2;
}
