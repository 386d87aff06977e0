import { type Core, uuid } from '../core/client';
import type { SaysoError } from '../core/http';
import { S, type Strings, fmt, pickLocale, strings } from '../i18n';
import type { Options, Screenshot, User, WidgetHandle } from '../types';
import { deepActive, h, icon } from './dom';
import { CSS, themeCss } from './styles';

interface Shot {
  blob: Blob;
  /** 0 uploading, 1 uploaded, 2 failed (retried when sending) */
  st: 0 | 1 | 2;
  s?: Screenshot;
  p?: Promise<unknown>;
}

interface CaptureModule {
  capture(o: Options & { exclude?: Element }): Promise<Blob>;
}

const EMOJI = ['😞', '🙁', '🙂', '😍'];
const MAX_SHOTS = 3;
const MAX_FILE = 10485760;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const BUBBLE = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h10V9zm0 4v2h7v-2z';

let sheet: CSSStyleSheet | undefined;

const safely = <A extends unknown[]>(fn: ((...a: A) => void) | undefined, ...a: A): void => {
  try {
    fn?.(...a);
  } catch (e) {
    console.error(e);
  }
};

/** The launcher and dialog, all inside one <sayso-feedback> element with an open shadow root. */
export function createWidget(options: Options, core: Core, loadCapture: (url: string) => Promise<CaptureModule>, defaultBase: string): WidgetHandle {
  if (!options?.clientId) throw new Error('Sayso: clientId is required');
  let o: Options = { ...options };
  let t: Strings;
  const base = () => (o.baseUrl || defaultBase).replace(/\/+$/, '');

  const host = h('sayso-feedback' as 'div');
  const shadow = host.attachShadow({ mode: 'open' });
  const themeSheet = 'adoptedStyleSheets' in Document.prototype ? new CSSStyleSheet() : null;
  let styleEl: HTMLStyleElement | undefined;
  const r = h('div');
  const status = h('div', { role: 'status', class: 'sr' });
  shadow.append(r, status);

  // draft state (kept while the dialog is closed, until it has been sent)
  let rating = 0;
  let comment = '';
  let email: string | null = null; // null until the user types: then prefill from user
  let shots: Shot[] = [];
  let key = '';
  let phase: 0 | 1 | 2 = 0; // form, sending, done
  let queued = false;
  let capturing = false;

  let isOpen = false;
  let destroyed = false;
  let prev: HTMLElement | null = null;
  let launcher: HTMLButtonElement | null = null;
  let layer: HTMLDivElement | null = null; // backdrop + dialog
  // refs into the dialog
  let dialog: HTMLDivElement;
  let body: HTMLElement;
  let alertEl: HTMLElement;
  let sendBtn: HTMLButtonElement | undefined;
  let list: HTMLUListElement | undefined;
  let capBtn: HTMLButtonElement | undefined;
  let attBtn: HTMLButtonElement | undefined;
  let counter: HTMLElement | undefined;
  let emailIn: HTMLInputElement | undefined;
  let radios: HTMLButtonElement[] = [];

  const user = (): User | undefined => {
    try {
      return (o.getUser && o.getUser()) || o.user || undefined;
    } catch {
      return o.user;
    }
  };
  const announce = (s: string) => {
    status.textContent = '';
    setTimeout(() => (status.textContent = s), 50);
  };
  const showError = (s: string) => {
    alertEl.textContent = s;
    alertEl.hidden = !s;
  };
  const errorText = (e: unknown): string => (e as SaysoError)?.server || t[S.errSend];

  function applyStyles() {
    const theme = themeCss(o.theme);
    if (themeSheet) {
      sheet ||= new CSSStyleSheet();
      if (!sheet.cssRules.length) sheet.replaceSync(CSS);
      themeSheet.replaceSync(theme);
      shadow.adoptedStyleSheets = [sheet, themeSheet];
    } else {
      styleEl ||= h('style', { nonce: o.nonce });
      styleEl.textContent = CSS + theme;
      shadow.prepend(styleEl);
    }
    const scheme = o.colorScheme === 'dark' ? ' dk' : o.colorScheme === 'light' ? '' : ' au';
    r.className = `r${scheme}${o.position === 'left' ? ' lf' : ''}${o.launcher && o.launcher !== 'button' ? ' nl' : ''}`;
  }

  function renderLauncher() {
    launcher?.remove();
    launcher = null;
    const kind = o.launcher || 'button';
    if (kind === 'none') return;
    const tab = kind === 'tab';
    launcher = h('button', { class: tab ? 't' : 'l', 'aria-label': t[S.launcher], 'aria-haspopup': 'dialog', click: open }, tab ? t[S.tab] : icon(BUBBLE));
    launcher.hidden = isOpen;
    r.prepend(launcher);
  }

  const canSend = () => !!rating || !!comment.trim();
  const updateSend = () => {
    if (sendBtn) sendBtn.disabled = phase !== 1 && !canSend();
  };

  function setRating(v: number, focus?: boolean) {
    rating = v;
    radios.forEach((b, i) => {
      b.setAttribute('aria-checked', String(i + 1 === v));
      b.tabIndex = i + 1 === v || (!v && !i) ? 0 : -1;
      if (focus && i + 1 === v) b.focus();
    });
    radios[0]?.parentElement?.toggleAttribute('data-v', !!v); // dims the other faces
    updateSend();
  }

  function renderShots() {
    if (!list || !capBtn || !attBtn) return;
    const full = shots.length >= MAX_SHOTS;
    capBtn.disabled = full || capturing;
    attBtn.disabled = full;
    list.replaceChildren(
      ...shots.map((s, i) => {
        const n = i + 1;
        return h(
          'li',
          null,
          s.st === 1 && s.s
            ? h('img', { src: s.s.url, alt: fmt(t[S.shot], n), crossorigin: 'anonymous', referrerpolicy: 'no-referrer' })
            : s.st === 0
              ? h('progress', { 'aria-label': fmt(t[S.uploading], n) })
              : h('span', null, `${fmt(t[S.shot], n)}: ${t[S.pendingShot]}`),
          h('button', { class: 'rm', 'aria-label': fmt(t[S.remove], n), click: () => removeShot(s) }, '×'),
        );
      }),
    );
    list.hidden = !shots.length;
  }

  function removeShot(s: Shot) {
    shots = shots.filter((x) => x !== s);
    renderShots();
    announce(t[S.removed]);
    attBtn?.focus(); // its button is gone: focus stays in the dialog
  }

  function addShot(blob: Blob) {
    if (shots.length >= MAX_SHOTS) return;
    if (!/^image\//.test(blob.type) || blob.size > MAX_FILE) return showError(t[S.errImage]);
    showError('');
    const s: Shot = { blob, st: 0 };
    shots.push(s);
    const n = () => shots.indexOf(s) + 1;
    announce(fmt(t[S.uploading], n()));
    s.p = core.uploadScreenshot({ clientId: o.clientId, baseUrl: base() }, blob).then(
      (shot) => {
        s.s = shot;
        s.st = 1;
        if (n()) announce(fmt(t[S.uploaded], n()));
      },
      (e: SaysoError) => {
        if (e.retriable) s.st = 2;
        else if (n()) {
          shots = shots.filter((x) => x !== s);
          showError(errorText(e));
          safely(o.onError, e);
        }
      },
    ).finally(renderShots);
    renderShots();
  }

  async function capture() {
    if (capturing || shots.length >= MAX_SHOTS) return;
    capturing = true;
    renderShots();
    try {
      const m = await loadCapture(`${base()}/widget/capture.js`);
      // the widget stays out of its own screenshot (its host is left out of the copy), and the privacy options apply
      addShot(await m.capture({ ...o, exclude: host }));
    } catch (e) {
      console.error(e);
      showError(t[S.errCapture]);
    } finally {
      capturing = false;
      renderShots();
      if (isOpen) (capBtn && !capBtn.disabled ? capBtn : sendBtn)?.focus();
    }
  }

  async function send(ev?: Event) {
    ev?.preventDefault();
    if (phase || capturing || !canSend()) return; // a capture under way: wait for it
    const em = emailIn ? emailIn.value.trim() : undefined;
    if (em && !EMAIL.test(em)) {
      showError(t[S.errEmail]);
      emailIn?.focus();
      return;
    }
    showError('');
    key ||= uuid(); // one key per submission, kept if the user has to press Send again
    const btn = sendBtn!;
    // stays focusable while busy (a disabled button would drop the focus out of the dialog)
    const busy = (b: boolean) => {
      phase = b ? 1 : 0;
      btn.setAttribute('aria-busy', String(b));
      btn.setAttribute('aria-disabled', String(b));
      btn.textContent = b ? t[S.sending] : t[S.send];
    };
    busy(true);
    announce(t[S.sending]);
    try {
      await Promise.all(shots.map((s) => s.p));
      const u = user();
      const res = await core.submit({
        clientId: o.clientId,
        baseUrl: base(),
        rating: rating || undefined,
        comment,
        // the field's value (even "" when cleared) wins over user.email; hidden field: user.email
        userEmail: em,
        user: u,
        environment: o.environment,
        metadata: o.metadata,
        contextMetadata: o.contextMetadata,
        screenshots: shots.filter((s) => s.st === 1).map((s) => s.s!),
        files: shots.filter((s) => s.st === 2).map((s) => s.blob),
        idempotencyKey: key,
      });
      phase = 2;
      queued = res.queued;
      renderBody();
      announce(t[S.thanks]);
      safely(o.onSubmit, res);
    } catch (e) {
      busy(false);
      showError(errorText(e));
      safely(o.onError, e as Error);
    }
  }

  function renderForm(): HTMLElement {
    const labels = t[S.ratings].split('|');
    radios = labels.map((label, i) =>
      h('button', { role: 'radio', 'aria-checked': 'false', 'aria-label': label, click: () => setRating(i + 1) }, h('span', { 'aria-hidden': 'true' }, EMOJI[i])),
    );
    const group = h('div', { class: 'g', role: 'radiogroup', 'aria-labelledby': 'q', keydown: onRadioKey }, ...radios);
    const max = o.maxCommentLength || 1000;
    comment = comment.slice(0, max);
    counter = h('div', { class: 'c', 'aria-hidden': 'true' });
    const ta = h('textarea', { id: 'm', maxlength: max, placeholder: o.placeholder || t[S.placeholder], rows: 4 });
    ta.value = comment;
    const count = () => (counter!.textContent = `${comment.length}/${max}`);
    ta.addEventListener('input', () => {
      comment = ta.value;
      count();
      updateSend();
    });
    count();
    emailIn = undefined;
    if (o.showEmailOption !== false) {
      emailIn = h('input', { id: 'e', type: 'email', autocomplete: 'email', spellcheck: 'false' });
      emailIn.value = email ?? user()?.email ?? '';
      emailIn.addEventListener('input', () => (email = emailIn!.value));
    }
    list = capBtn = attBtn = undefined;
    let shotsUi: HTMLElement | null = null;
    if (o.showScreenshotOption !== false) {
      const file = h('input', { type: 'file', accept: 'image/*', 'aria-label': t[S.attach], hidden: true, tabindex: -1 });
      file.addEventListener('change', () => {
        for (const f of [...(file.files || [])]) addShot(f);
        file.value = '';
      });
      capBtn = h('button', { class: 'o', 'aria-describedby': 'n', click: () => void capture() }, t[S.capture]);
      attBtn = h('button', { class: 'o', click: () => file.click() }, t[S.attach]);
      list = h('ul');
      // one line next to the capture: what it leaves out
      shotsUi = h('div', null, h('div', { class: 'sb' }, capBtn, attBtn, file), h('div', { class: 'n', id: 'n' }, t[S.hidden]), list);
    }
    sendBtn = h('button', { type: 'submit', class: 's' }, t[S.send]);
    alertEl = h('div', { role: 'alert', class: 'er', hidden: true });
    const form = h(
      'form',
      { novalidate: true, submit: (e: Event) => void send(e) },
      h('p', { class: 'q', id: 'q' }, t[S.question]),
      group,
      h('label', { for: 'm' }, t[S.comment]),
      ta,
      counter,
      emailIn && h('label', { for: 'e' }, t[S.email]),
      emailIn,
      shotsUi,
      alertEl,
      sendBtn,
    );
    setRating(rating);
    renderShots();
    return form;
  }

  function renderDone(): HTMLElement {
    sendBtn = list = capBtn = attBtn = emailIn = undefined;
    radios = [];
    alertEl = h('div', { role: 'alert', class: 'er', hidden: true });
    return h(
      'div',
      { class: 'ok' },
      h('div', { class: 'e', 'aria-hidden': 'true' }, '🎉'),
      h('h3', null, t[S.thanks]),
      h('p', null, queued ? t[S.queued] : t[S.sent]),
      h('button', { class: 's', click: close }, t[S.close]),
    );
  }

  function renderBody() {
    const next = phase === 2 ? renderDone() : renderForm();
    body.replaceWith(next);
    body = next;
    const x = dialog.querySelector<HTMLElement>('.x');
    if (x) x.hidden = phase === 2; // one "Close" button at a time
    if (isOpen && phase === 2) body.querySelector<HTMLElement>('.s')?.focus();
  }

  function renderDialog() {
    body = h('div');
    dialog = h(
      'div',
      { class: 'd', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'h', tabindex: -1, keydown: onDialogKey },
      h('div', { class: 'hd' }, h('h2', { id: 'h' }, o.title || t[S.title]), h('button', { class: 'x', 'aria-label': t[S.close], click: close }, '×')),
      body,
    );
    renderBody();
    const wasIn = layer?.isConnected;
    layer?.remove();
    layer = h('div', null, h('div', { class: 'b', click: close }), dialog);
    if (wasIn) r.append(layer);
  }

  function focusables(): HTMLElement[] {
    return [...dialog.querySelectorAll<HTMLElement>('button,textarea,input,[tabindex="0"]')].filter(
      (e) => !(e as HTMLButtonElement).disabled && e.tabIndex >= 0 && e.getClientRects().length > 0,
    );
  }

  function focusFirst() {
    ((phase === 2 ? body.querySelector<HTMLElement>('.s') : radios.find((b) => b.tabIndex === 0)) || dialog).focus();
  }

  function onDialogKey(e: Event) {
    const k = e as KeyboardEvent;
    if (k.key === 'Escape') {
      k.preventDefault();
      k.stopPropagation();
      close();
    } else if (k.key === 'Tab') {
      const f = focusables();
      const a = shadow.activeElement;
      const first = f[0];
      const last = f[f.length - 1];
      if (!first) return k.preventDefault();
      if (k.shiftKey ? a === first || a === dialog : a === last) {
        k.preventDefault();
        (k.shiftKey ? last : first).focus();
      }
    }
  }

  function onRadioKey(e: Event) {
    const k = e as KeyboardEvent;
    const i = radios.indexOf(shadow.activeElement as HTMLButtonElement);
    const d = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[k.key];
    const to = d ? (i + d + 4) % 4 : k.key === 'Home' ? 0 : k.key === 'End' ? 3 : -1;
    if (to < 0 || i < 0) return;
    k.preventDefault();
    setRating(to + 1, true);
  }

  function reset() {
    rating = 0;
    comment = '';
    email = null;
    shots = [];
    key = '';
    phase = 0;
    queued = false;
    layer?.remove();
    layer = null;
  }

  function open() {
    if (isOpen || destroyed) return;
    prev = deepActive();
    isOpen = true;
    if (phase === 2) reset();
    if (!layer) renderDialog();
    else if (emailIn && email === null) emailIn.value = user()?.email ?? '';
    r.append(layer!);
    if (launcher) launcher.hidden = true;
    focusFirst();
    safely(o.onOpen);
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    layer?.remove();
    if (launcher) launcher.hidden = false;
    if (phase === 2) reset();
    (prev?.isConnected && prev !== document.body ? prev : launcher)?.focus();
    prev = null;
    safely(o.onClose);
  }

  function render() {
    t = strings(pickLocale(o.locale, typeof navigator != 'undefined' ? navigator.languages || [navigator.language] : []));
    applyStyles();
    renderLauncher();
    if (layer) {
      renderDialog();
      if (isOpen) focusFirst();
    }
  }

  render();
  const mount = () => !destroyed && document.body.append(host);
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });

  return {
    open,
    close,
    update(partial) {
      if (destroyed) return;
      o = { ...o, ...partial, clientId: partial?.clientId || o.clientId };
      render();
    },
    identify(u) {
      o.user = u || undefined;
      if (emailIn && email === null) emailIn.value = u?.email ?? '';
    },
    destroy() {
      if (isOpen) close();
      destroyed = true;
      host.remove();
    },
  };
}
