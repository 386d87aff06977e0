/**
 * replay.js: Sayso's session recorder, loaded with import() by `replay: true`,
 * `data-replay` or startReplay(). rrweb itself (rrweb-record.js, ~23 KB gzip) is
 * imported only when this tab session is sampled in.
 */
import { uuid } from '../core/client';
import { request } from '../core/http';
import type { StorageLike } from '../core/queue';
import { baseFromScript } from '../script';
import type { ReplayHandle, ReplayOptions } from '../types';
import { type Recorder, type ReplaySend, createRecorder } from './recorder';

const store = (k: 'sessionStorage' | 'localStorage'): StorageLike | null => {
  try {
    return window[k];
  } catch {
    return null;
  }
};

// chunks, identify and finalise: the widget's one fetch, with a longer timeout
const send: ReplaySend = (method, url, body, headers, keepalive) =>
  request(method, url, body as BodyInit, headers, 30000, keepalive);

async function gzip(s: string): Promise<Uint8Array> {
  const stream = new Blob([s]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

let current: Promise<ReplayHandle | null> | undefined;

/**
 * Starts recording this page (once; later calls get the same handle). Resolves with
 * null when the tab session is sampled out; the handle's sessionReplayId is set once
 * the server has accepted the session.
 */
export function start(o: ReplayOptions): Promise<ReplayHandle | null> {
  return (current ||= begin(o));
}

async function begin(o: ReplayOptions): Promise<ReplayHandle | null> {
  const cleanup: (() => void)[] = [];
  const rec: Recorder | null = createRecorder(
    { ...o, baseUrl: o.baseUrl || baseFromScript(import.meta.url, false) },
    {
      send,
      gzip: typeof CompressionStream == 'function' ? gzip : undefined,
      beacon: (url, body) => {
        try {
          return navigator.sendBeacon(url, body); // a string goes as text/plain: no preflight
        } catch {
          return false;
        }
      },
      session: store('sessionStorage'),
      local: store('localStorage'),
      now: Date.now,
      random: Math.random,
      uuid: () => uuid(),
      setTimer: (f, ms) => setTimeout(f, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      href: () => location.href,
      userAgent: navigator.userAgent,
      onStop: () => {
        for (const f of cleanup.splice(0)) f();
      },
    },
  );
  if (!rec) return null;
  const { record, recordOptions } = await import('../rrweb-record');
  const stopRecord = record({
    emit: (e) => rec.add(e),
    // what is blocked, masked and kept: the same rules as "Capture this page"
    ...recordOptions(o),
    checkoutEveryNms: 60000,
    recordCanvas: false,
    collectFonts: false,
    inlineImages: false,
    recordCrossOriginIframes: false,
    slimDOMOptions: { script: true, comment: true, headFavicon: true, headMetaVerification: true },
    sampling: { mousemove: 50, scroll: 150, input: 'last' },
  });
  if (stopRecord) cleanup.push(stopRecord);

  // SPA navigation: a custom event `url-change` (Usero's tag) whenever the URL changes
  let href = location.href;
  const onUrl = () => {
    if (location.href !== href) record.addCustomEvent('url-change', { href: (href = location.href) });
  };
  for (const m of ['pushState', 'replaceState'] as const) {
    const orig = history[m];
    const patched = function (this: History, ...a: Parameters<History['pushState']>) {
      orig.apply(this, a);
      onUrl();
    };
    history[m] = patched;
    cleanup.push(() => {
      if (history[m] === patched) history[m] = orig;
    });
  }
  const on = (t: EventTarget, type: string, f: (e: Event) => void) => {
    t.addEventListener(type, f);
    cleanup.push(() => t.removeEventListener(type, f));
  };
  on(window, 'popstate', onUrl);
  on(window, 'hashchange', onUrl);
  on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && rec.flush());
  on(window, 'pagehide', () => rec.end());

  void rec.start();
  return {
    get sessionReplayId() {
      return rec.id;
    },
    link: rec.link,
    stop: rec.stop,
    identify: rec.identify,
  };
}

export default start;
