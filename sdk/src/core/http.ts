import type { Payload, Screenshot } from '../types';

/** status 0 = network error or timeout; data = the parsed JSON body or null. */
export interface HttpResult {
  status: number;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** POSTs a body; never rejects (failures resolve with status 0). */
export type Transport = (
  url: string,
  body: string | FormData,
  headers: Record<string, string>,
  timeoutMs: number,
) => Promise<HttpResult>;

export const FEEDBACK_TIMEOUT = 10000;
export const UPLOAD_TIMEOUT = 30000;

/** Network error, 5xx, 408 and 429 are worth retrying; other statuses are final. */
export const isRetriable = (status: number): boolean =>
  status === 0 || status === 408 || status === 429 || status >= 500;

export const isOk = (status: number): boolean => status >= 200 && status < 300;

export class SaysoError extends Error {
  status: number;
  retriable: boolean;
  /** The server's own (human-readable) `error` string, when it sent one. */
  server?: string;
  constructor(message: string, status: number, server?: string) {
    super(message);
    this.name = 'SaysoError';
    this.status = status;
    this.retriable = isRetriable(status);
    this.server = server;
  }
}

/** The server's human-readable `error` when it sent one. */
export function toError(r: HttpResult): SaysoError {
  const e = r.data && typeof r.data.error == 'string' ? r.data.error : undefined;
  return new SaysoError(e || (r.status ? `HTTP ${r.status}` : 'Network error'), r.status, e);
}

const enc = new TextEncoder();

/**
 * The one fetch: credentials omitted, a timeout, never rejects (failures resolve with
 * status 0). keepalive requests outlive the page but share a 64 KB quota: one the browser
 * refuses goes again as an ordinary request.
 */
export async function request(
  method: string,
  url: string,
  body: BodyInit,
  headers: Record<string, string>,
  timeoutMs: number,
  keepalive: boolean,
): Promise<HttpResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const go = (keepalive: boolean) =>
    // mode is 'cors' by default; no cookies or HTTP auth go to the feedback server
    fetch(url, { method, body, headers, credentials: 'omit', keepalive, signal: ac.signal });
  try {
    const r = await go(keepalive).catch((e) => (keepalive ? go(false) : Promise.reject(e)));
    return { status: r.status, data: await r.json().catch(() => null) }; // null: not JSON
  } catch {
    return { status: 0, data: null };
  } finally {
    clearTimeout(timer);
  }
}

/** POST with keepalive for small bodies. */
export const fetchTransport: Transport = (url, body, headers, timeoutMs) =>
  request('POST', url, body, headers, timeoutMs, typeof body == 'string' && enc.encode(body).length < 60000);

export const jsonHeaders = (key: string): Record<string, string> => ({
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'Idempotency-Key': key,
});

export const postFeedback = (t: Transport, baseUrl: string, body: Payload, key: string): Promise<HttpResult> =>
  t(`${baseUrl}/api/feedback`, JSON.stringify(body), jsonHeaders(key), FEEDBACK_TIMEOUT);

const isShot = (s: any): s is Screenshot => // eslint-disable-line @typescript-eslint/no-explicit-any
  !!s && typeof s.fileName == 'string' && typeof s.url == 'string';

/** POST /api/screenshots; resolves with the screenshot object or rejects with a SaysoError. */
export async function upload(t: Transport, baseUrl: string, clientId: string, file: Blob): Promise<Screenshot> {
  const form = new FormData();
  form.append('clientId', clientId);
  form.append('screenshot', file, 'screenshot'); // the server decodes the bytes and ignores names
  const r = await t(`${baseUrl}/api/screenshots`, form, { Accept: 'application/json' }, UPLOAD_TIMEOUT);
  if (isOk(r.status) && isShot(r.data?.screenshot)) return r.data.screenshot;
  throw toError(isOk(r.status) ? { status: 502, data: r.data } : r);
}
