import type { Metadata, MetadataOption, Payload, SubmitInput, User } from '../types';

/** What the payload builder reads from the page; injected so tests need no DOM. */
export interface PageInfo {
  href: string;
  title: string;
  referrer: string;
  /** The `browser` metadata (see browserContext). */
  browser: Metadata;
}

/** The parts of `window` that browserContext reads. */
export interface WindowLike {
  innerWidth: number;
  innerHeight: number;
  devicePixelRatio?: number;
  screen?: { width: number; height: number };
  navigator: {
    language?: string;
    userAgent?: string;
    userAgentData?: { brands?: { brand: string; version: string }[]; platform?: string; mobile?: boolean };
  };
  Intl?: typeof Intl;
}

// The server's limits (docs/api.md): clip rather than have the whole feedback refused.
const clip = (s: unknown, max: number): string | undefined =>
  typeof s == 'string' && s.trim() ? s.trim().slice(0, max) : undefined;

const isObj = (v: unknown): v is Metadata => !!v && typeof v == 'object' && !Array.isArray(v);

/** Resolves a metadata option (object or function); a throwing function counts as none. */
export function resolveMetadata(m: MetadataOption | undefined): Metadata | undefined {
  try {
    const v = typeof m == 'function' ? m() : m;
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Viewport, screen, language, time zone, user agent, and UA client hints where the browser has them. */
export function browserContext(w: WindowLike): Metadata {
  const n = w.navigator;
  const u = n.userAgentData;
  let timezone: string | undefined;
  try {
    timezone = w.Intl?.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    // no time zone support
  }
  return JSON.parse(
    JSON.stringify({
      viewport: { width: w.innerWidth, height: w.innerHeight },
      screen: w.screen && { width: w.screen.width, height: w.screen.height, pixelRatio: w.devicePixelRatio },
      language: n.language,
      timezone,
      userAgent: n.userAgent,
      brands: u?.brands?.map((b) => `${b.brand} ${b.version}`),
      platform: u?.platform || undefined,
      mobile: u?.mobile,
    }),
  );
}

/** Reads the PageInfo from the real browser. */
export const readPage = (): PageInfo => ({
  href: location.href,
  title: document.title,
  referrer: document.referrer,
  browser: browserContext(window as unknown as WindowLike),
});

/** Builds the JSON body of POST /api/feedback. */
export function buildPayload(input: SubmitInput, page: PageInfo): Payload {
  const u: User = input.user || {};
  let meta: Metadata = {};
  if (input.contextMetadata !== false) meta.browser = page.browser;
  if (u.id || u.name) meta.user = JSON.parse(JSON.stringify({ id: u.id, name: u.name }));
  meta = { ...meta, ...resolveMetadata(input.metadata) };
  const p: Payload = {
    clientId: input.clientId as string, // checked by submit()
    rating: input.rating || undefined,
    comment: clip(input.comment, 10000),
    // An explicit userEmail (even "": the user cleared the field) wins over user.email.
    userEmail: clip(input.userEmail ?? u.email, 254),
    pageUrl: clip(input.pageUrl, 4096) ?? clip(page.href, 4096),
    pageTitle: (input.pageTitle ?? page.title ?? '').slice(0, 1000),
    referrer: clip(input.referrer, 4096) ?? clip(page.referrer, 4096),
    environment: clip(input.environment, 64),
    screenshots: input.screenshots?.length ? input.screenshots.slice(0, 10) : undefined,
    metadata: Object.keys(meta).length ? meta : undefined,
    sessionReplayId: input.sessionReplayId || undefined,
    replayOffsetMs: input.replayOffsetMs,
  };
  // drop the absent fields
  for (const k in p) if (p[k as keyof Payload] === undefined) delete p[k as keyof Payload];
  return p;
}
