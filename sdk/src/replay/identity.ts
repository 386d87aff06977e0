/**
 * Who is being recorded: the browser's anonymousId, and POST /api/identify when the host
 * app's user changes (after the session start has been answered, retried, never twice for
 * the same person; a logout rotates the anonymousId).
 */
import { isOk as ok, isRetriable as retriable } from '../core/http';
import type { ReplayOptions, User } from '../types';
import { MAX_TRIES, type ReplayEnv, retryDelay } from './env';
import { ANON_KEY, WHO_KEY, read, write } from './storage';

export interface Identity {
  anonymousId(): string;
  identify(u: User | null | undefined): Promise<void>;
}

export function createIdentity(
  o: ReplayOptions,
  env: ReplayEnv,
  api: string,
  ready: () => Promise<boolean> | undefined,
  stopped: () => boolean,
): Identity {
  /** When localStorage is unavailable: one id for this page. */
  let anon = '';
  const anonymousId = (): string => {
    let a = read(env.local, ANON_KEY) || anon;
    if (!a) write(env.local, ANON_KEY, (a = env.uuid()));
    return (anon = a);
  };
  /** The identify in progress (or done) on this page; null after a logout. */
  let who: { b: string } | null = null;
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
    if (stopped() || !(u.id || u.email || u.name)) return;
    known = true;
    // JSON drops the absent fields
    const b = JSON.stringify({ clientId: o.clientId, anonymousId: anonymousId(), externalUserId: u.id, email: u.email, displayName: u.name });
    // the same person again, on this page or (accepted) on an earlier one
    if (b === who?.b || b === read(env.local, WHO_KEY)) return;
    const me = (who = { b });
    // After the session start has been answered: the server then has the session's row to fill in
    // (an identify racing the start could miss it, and the session would show nobody).
    await ready();
    for (let n = 1; who === me && !stopped(); n++) {
      // text/plain: no preflight (the server reads the body as JSON whatever the type)
      const r = await env.send('POST', `${api}identify`, b, { 'Content-Type': 'text/plain;charset=UTF-8' }, true);
      if (ok(r.status) && r.data?.accepted === true) return write(env.local, WHO_KEY, b);
      if ((!ok(r.status) && !retriable(r.status)) || n >= MAX_TRIES) break;
      await new Promise((res) => env.setTimer(res as () => void, retryDelay(n, env.random)));
    }
    if (who === me) who = null; // given up: a later identify() may try again
  }
  return { anonymousId, identify };
}
