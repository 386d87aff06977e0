import { type Core, createCore, uuid } from './core/client';
import { fetchTransport } from './core/http';
import { readPage } from './core/payload';
import type { Options, ReplayHandle, ReplayOptions, Screenshot, SubmitInput, SubmitResult, UploadTarget, WidgetHandle } from './types';
import { createWidget } from './ui/widget';

declare const __VERSION__: string;
export const version = __VERSION__;

let defaultBase = '';
let core: Core | undefined;
let listening = false;
// The clientId/baseUrl of the last init() (or the script tag), so the headless
// calls can be as short as `uploadScreenshot(file)`.
let last: UploadTarget | undefined;
let replay: Promise<ReplayHandle | null> | undefined;
let recording: ReplayHandle | null | undefined;

/** The base URL used when options give none (derived from where the script was loaded). */
export const setDefaultBase = (b: string): void => {
  defaultBase = b;
};

function getCore(): Core {
  return (core ||= createCore({
    storage: () => {
      try {
        return localStorage;
      } catch {
        return null; // sandboxed frame, storage disabled
      }
    },
    now: Date.now,
    random: Math.random,
    uuid: () => uuid(),
    transport: fetchTransport,
    setTimer: (f, ms) => setTimeout(f, ms),
    clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
    page: readPage,
    baseUrl: () => defaultBase,
    replay: () => recording?.link(),
  }));
}

/** Drains a non-empty offline queue now, and again whenever the browser comes back online. No request otherwise. */
export function start(): void {
  const c = getCore();
  if (!listening) {
    listening = true;
    addEventListener('online', () => void c.queue.drain(true));
  }
  if (c.queue.read().length) void c.queue.drain();
}

export function init(options: Options): WidgetHandle {
  last = { clientId: options.clientId, baseUrl: options.baseUrl };
  const w = createWidget(options, getCore(), (url) => import(url), defaultBase);
  const id = w.identify;
  start();
  if (options.replay) startReplay(options).catch(console.error);
  // a recording (this init's or startReplay()'s) learns of every user change, in order
  w.identify = (u) => {
    id(u);
    replay?.then((h) => h?.identify(u), () => {});
  };
  return w;
}

/**
 * Records a session replay with replay.js (loaded from the server on first use; once
 * per page). Resolves with null when this tab session is sampled out. While it records,
 * feedback carries sessionReplayId and replayOffsetMs.
 */
export function startReplay(o: ReplayOptions): Promise<ReplayHandle | null> {
  const b = (o.baseUrl || defaultBase).replace(/\/+$/, '');
  return (replay ||= import(`${b}/widget/replay.js`).then((m) => m.start({ ...o, baseUrl: b })).then((h) => (recording = h)));
}

export function submit(input: SubmitInput): Promise<SubmitResult> {
  start();
  return getCore().submit({ ...last, ...input } as SubmitInput);
}

/** `uploadScreenshot(file)` after init(), or `uploadScreenshot({clientId, baseUrl?}, file)`. */
export function uploadScreenshot(target: UploadTarget | Blob, file?: Blob): Promise<Screenshot> {
  return target instanceof Blob
    ? getCore().uploadScreenshot(last as UploadTarget, target)
    : getCore().uploadScreenshot(target, file as Blob);
}
