/**
 * What the recorder keeps in the browser's storage: the tab's session (sessionStorage, so a
 * reload continues it), the browser's anonymousId and the last accepted identify
 * (localStorage), and chunks a page had to leave behind.
 */
import type { StorageLike } from '../core/queue';

export const SESSION_KEY = 'sayso:replay';
export const ANON_KEY = 'sayso:anon';
/** The last identify the server accepted (it names clientId and anonymousId). */
export const WHO_KEY = 'sayso:who';
/** Chunks a page could not send (left before its session start was answered), for the tab's next page. */
export const LEFT_KEY = 'sayso:replay:left';

/** Tab-session state, persisted in sessionStorage so that a reload continues the session. */
export interface State {
  /** sdkSessionId */
  s: string;
  /** sampled in (1) or out (0), decided once */
  k: 0 | 1;
  /** next chunk seq */
  q: number;
  /** first recorded event (ms) */
  t?: number;
}

export const read = (st: StorageLike | null, k: string): string | null => {
  try {
    return st && st.getItem(k);
  } catch {
    return null;
  }
};
export const write = (st: StorageLike | null, k: string, v: string): void => {
  try {
    st?.setItem(k, v);
  } catch {
    // full or blocked: this page keeps its state in memory
  }
};

/** Loads (or creates) the tab's session state; the sampling decision is taken here, once. */
export function loadState(env: { session: StorageLike | null; random: () => number; uuid: () => string }, rate: number | undefined): State {
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

