import type { CoreEnv } from '../src/core/client';
import type { HttpResult, Transport } from '../src/core/http';
import type { PageInfo } from '../src/core/payload';
import type { StorageLike } from '../src/core/queue';

export class MemoryStorage implements StorageLike {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.has(k) ? this.data.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, String(v));
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

/** Storage whose every call throws (Safari private mode, blocked cookies). */
export const brokenStorage: StorageLike = {
  getItem() {
    throw new Error('SecurityError');
  },
  setItem() {
    throw new Error('QuotaExceededError');
  },
  removeItem() {
    throw new Error('SecurityError');
  },
};

export interface Call {
  url: string;
  body: string | FormData;
  headers: Record<string, string>;
  timeout: number;
}

/** A transport answering from a list of results (or a function), recording every call. */
export function fakeTransport(answers: (HttpResult | ((c: Call) => HttpResult))[]) {
  const calls: Call[] = [];
  const transport: Transport = async (url, body, headers, timeout) => {
    const c = { url, body, headers, timeout };
    calls.push(c);
    const a = answers.length > 1 ? answers.shift()! : answers[0];
    if (!a) throw new Error(`unexpected request to ${url}`);
    return typeof a == 'function' ? a(c) : a;
  };
  return { transport, calls };
}

export const PAGE: PageInfo = {
  href: 'https://shop.example/cart?x=1',
  title: 'Cart',
  referrer: 'https://search.example/',
  browser: { viewport: { width: 1280, height: 800 }, language: 'en-GB' },
};

export function fakeEnv(over: Partial<CoreEnv> & { transport: Transport }) {
  const clock = { t: 1_700_000_000_000 };
  const timers: { fn: () => void; ms: number }[] = [];
  let n = 0;
  const env: CoreEnv = {
    storage: () => storage,
    now: () => clock.t,
    random: () => 0.5,
    uuid: () => `key-${++n}`,
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => undefined,
    page: () => PAGE,
    baseUrl: () => 'https://sayso.example',
    ...over,
  };
  const storage = new MemoryStorage();
  return { env, clock, timers, storage };
}

export const SHOT = {
  fileName: 'client_1/abc.png',
  url: 'https://sayso.example/api/screenshots/client_1/abc.png',
  fileSize: 100,
  mimeType: 'image/png',
  width: 10,
  height: 10,
};

export const ok = (data: unknown = { success: true, feedbackId: '01HX' }): HttpResult => ({ status: 200, data });
export const status = (s: number, error?: string): HttpResult => ({ status: s, data: error ? { error } : null });
