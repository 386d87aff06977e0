import type { Payload } from '../types';
import { type Transport, isOk, isRetriable, postFeedback, upload } from './http';

/** One submission waiting for delivery; persisted as JSON under `sayso:queue`. */
export interface Entry {
  /** The Idempotency-Key, sent with every attempt. */
  id: string;
  /** The server's base URL. */
  url: string;
  body: Payload;
  /** Screenshots whose upload failed, as data URLs, uploaded before the feedback. */
  img?: string[];
  /** Failed attempts so far. */
  n: number;
  /** Created at (ms). */
  t0: number;
  /** Next attempt not before (ms). */
  at: number;
}

export interface StorageLike {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export interface QueueEnv {
  /** localStorage, or null when unavailable (private mode, sandboxed frame). */
  storage: () => StorageLike | null;
  now: () => number;
  random: () => number;
  transport: Transport;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
}

export const KEY = 'sayso:queue';
export const BASE_DELAY = 2000;
export const MAX_DELAY = 300000;
export const MAX_ATTEMPTS = 20;
export const MAX_AGE = 7 * 24 * 3600 * 1000;
/** An entry keeps its images only while its JSON stays under this many characters. */
export const MAX_ENTRY = 1500000;
export const MAX_ENTRIES = 50;

/** Delay before attempt n+1 after n failures: exponential, capped, jittered in [d/2, d]. */
export function backoff(n: number, random: () => number): number {
  const d = Math.min(MAX_DELAY, BASE_DELAY * 2 ** Math.max(0, n - 1));
  return d / 2 + (random() * d) / 2;
}

const valid = (e: any): e is Entry => // eslint-disable-line @typescript-eslint/no-explicit-any
  [e?.id, e?.url, e?.body?.clientId].every((s) => typeof s == 'string') &&
  [e.n, e.t0, e.at].every((x) => typeof x == 'number') &&
  (e.img === undefined || (Array.isArray(e.img) && e.img.every((s: unknown) => typeof s == 'string')));

/** Parses the stored queue; anything corrupt is dropped, never thrown. */
export function deserialise(raw: string | null | undefined): Entry[] {
  if (!raw) return [];
  try {
    const a = JSON.parse(raw);
    return Array.isArray(a) ? a.filter(valid) : [];
  } catch {
    return [];
  }
}

export const serialise = (entries: Entry[]): string => JSON.stringify(entries);

export const expired = (e: Entry, now: number): boolean => e.n >= MAX_ATTEMPTS || now - e.t0 > MAX_AGE;

/** Keeps as many images as fit in MAX_ENTRY (in order); the rest are dropped. */
export function fitImages(e: Entry, images: string[]): Entry {
  let size = serialise([{ ...e, img: [] }]).length;
  const img: string[] = [];
  for (const d of images) {
    if (size + d.length + 3 > MAX_ENTRY) break;
    size += d.length + 3;
    img.push(d);
  }
  const out = { ...e };
  if (img.length) out.img = img;
  else delete out.img;
  return out;
}

/** Decodes the base64 data URLs that blobToDataUrl makes (anything else: an empty blob). */
export function dataUrlToBlob(d: string): Blob {
  const m = /^data:([^;,]*);base64,(.*)$/s.exec(d);
  let bin = '';
  try {
    bin = atob(m?.[2] || '');
  } catch {
    // corrupt: the server will refuse the empty upload and the feedback goes without it
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: m?.[1] });
}

export async function blobToDataUrl(b: Blob): Promise<string> {
  const bytes = new Uint8Array(await b.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:${b.type};base64,${btoa(bin)}`;
}

export interface Queue {
  /** The stored entries (none when storage is unavailable or corrupt). */
  read(): Entry[];
  /** Stores (or replaces) an entry and arms the timer; false when storage is unavailable or full. */
  put(e: Entry): boolean;
  /** Delivers every due entry (all of them when forced, e.g. on `online`), then re-arms the timer. */
  drain(force?: boolean): Promise<void>;
}

/**
 * The persistent delivery queue. Every write re-reads storage first, so two tabs
 * don't clobber each other's entries; a delivery that two tabs both make is
 * harmless (same Idempotency-Key).
 */
export function createQueue(env: QueueEnv): Queue {
  let timer: unknown;
  let busy = false;
  // next attempt per id, kept in memory too: if storage stops taking writes we still back off
  const mem = new Map<string, number>();

  const read = (): Entry[] => {
    try {
      return deserialise(env.storage()?.getItem(KEY));
    } catch {
      return [];
    }
  };

  const edit = (fn: (list: Entry[]) => Entry[]): boolean => {
    try {
      const s = env.storage();
      if (!s) return false;
      const list = fn(read()).slice(-MAX_ENTRIES);
      if (list.length) s.setItem(KEY, serialise(list));
      else s.removeItem(KEY);
      return true;
    } catch {
      return false; // full, or gone
    }
  };

  const remove = (id: string) => edit((l) => l.filter((o) => o.id !== id));
  // only if still queued: another tab may have delivered it meanwhile
  const patch = (e: Entry) => edit((l) => l.map((o) => (o.id === e.id ? e : o)));
  const due = (e: Entry) => Math.max(e.at, mem.get(e.id) || 0);

  /** A failed attempt: reschedule with backoff, or drop after too many tries / too long. */
  const fail = (e: Entry) => {
    const now = env.now();
    const next = { ...e, n: e.n + 1, at: now + backoff(e.n + 1, env.random) };
    mem.set(e.id, next.at);
    if (expired(next, now)) remove(e.id);
    else patch(next);
  };

  /** One delivery attempt: pending images first, then the feedback. */
  const attempt = async (e: Entry): Promise<void> => {
    const t = env.transport;
    let img: string[];
    while ((img = e.img || []).length) {
      try {
        const shot = await upload(t, e.url, e.body.clientId, dataUrlToBlob(img[0]));
        e = { ...e, body: { ...e.body, screenshots: [...(e.body.screenshots || []), shot] } };
      } catch (err) {
        if ((err as { retriable?: boolean }).retriable) return fail(e);
        // refused for good (not an image, unknown client…): send the feedback without it
      }
      e = { ...e, img: img.slice(1) };
      if (!e.img!.length) delete e.img;
      patch(e);
    }
    const r = await postFeedback(t, e.url, e.body, e.id);
    if (isOk(r.status) || !isRetriable(r.status)) remove(e.id);
    else fail(e);
  };

  /** One timer for the earliest due entry, while the page is open. */
  const schedule = () => {
    env.clearTimer(timer);
    const list = read();
    timer = list.length
      ? env.setTimer(() => void drain(), Math.min(Math.max(Math.min(...list.map(due)) - env.now(), 0) + 50, 2 ** 31 - 1))
      : undefined;
  };

  const put = (e: Entry): boolean => {
    const add = (x: Entry) => edit((l) => [...l.filter((o) => o.id !== x.id), x]);
    const ok = add(e) || (!!e.img && add({ ...e, img: undefined }));
    if (ok) {
      mem.set(e.id, e.at);
      schedule();
    }
    return ok;
  };

  const drain = async (force = false): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (const e of read()) {
        const now = env.now();
        if (expired(e, now)) remove(e.id);
        else if (force || due(e) <= now) await attempt(e);
      }
    } finally {
      busy = false;
      schedule();
    }
  };

  return { read, put, drain };
}
