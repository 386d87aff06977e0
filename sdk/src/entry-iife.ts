/** widget.js: defines window.Sayso and auto-mounts from <script data-client-id=…>. */
import { init, setDefaultBase, start, startReplay, submit, uploadScreenshot, version } from './api';
import { baseFromScript, optionsFromScript } from './script';
import type { WidgetHandle } from './types';

interface Global {
  init: typeof init;
  startReplay: typeof startReplay;
  submit: typeof submit;
  uploadScreenshot: typeof uploadScreenshot;
  version: string;
  widget?: WidgetHandle;
}

// document.currentScript is only set while the script first runs: read it now.
const script = document.currentScript as HTMLScriptElement | null;
const w = window as unknown as { Sayso?: Global };

if (!w.Sayso?.init) {
  setDefaultBase(baseFromScript(script?.src, true));
  const api: Global = { init, startReplay, submit, uploadScreenshot, version };
  w.Sayso = api;
  start(); // delivers a non-empty offline queue; no request otherwise
  if (script?.dataset.clientId) api.widget = init(optionsFromScript(script));
}
