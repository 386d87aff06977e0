/**
 * capture.js: loaded with import() only when the user clicks "Capture this page".
 * Renders the visible part of the page to a PNG with modern-screenshot, applying the
 * privacy rules (privacy.ts, the session recorder's too) to its copy of the DOM before
 * anything is drawn. The visitor's page itself is never changed.
 */
import { type Options as RenderOptions, createContext, destroyContext, domToBlob } from 'modern-screenshot';
import { type Rules, bullets, hidesValue, rules } from './privacy';
import type { PrivacyOptions } from './types';

export interface CaptureOptions extends PrivacyOptions {
  /** An element to leave out of the image (the widget's own host); its open shadow root holds the renderer's scratch frame. */
  exclude?: Element;
}

/** Longest side of the image, in pixels: keeps uploads (and queued data URLs) small. */
const MAX_SIDE = 2560;
/** A blocked element's box: one flat colour, borders included. */
const BOX = '#c8ccd2';
/** The only attributes a blocked element's copy keeps: the ones that shape its box, none that carry content. */
const BOX_ATTRIBUTES = /^(style|colspan|rowspan|span|width|height)$/;

/** Each non-blank character of the text under `copy` becomes a bullet. */
function maskText(copy: Node): void {
  if (copy.nodeType === Node.TEXT_NODE) (copy as Text).data = bullets((copy as Text).data);
  copy.childNodes.forEach(maskText);
}

/** A hidden field's copy shows no value at all (the same whatever was typed): no value, no textarea text, no options. */
function emptyField(copy: HTMLElement): void {
  copy.setAttribute('value', '');
  if (copy.nodeName !== 'INPUT') copy.replaceChildren();
}

/** A blocked element's copy becomes a plain box of its size. */
function box(el: Element, copy: HTMLElement): void {
  copy.replaceChildren();
  // class goes too: modern-screenshot draws ::before / ::after content through added classes
  for (const a of [...copy.attributes]) if (!BOX_ATTRIBUTES.test(a.name)) copy.removeAttribute(a.name);
  const s = copy.style;
  // an inline element has no size of its own once empty: give it the one it had
  if (el.ownerDocument.defaultView?.getComputedStyle(el).display === 'inline') {
    const r = el.getBoundingClientRect();
    s.display = 'inline-block';
    s.width = `${r.width}px`;
    s.height = `${r.height}px`;
  }
  const flat: Record<string, string> = { background: BOX, 'border-color': BOX, 'border-image': 'none', 'box-shadow': 'none', outline: '0', color: 'transparent', 'list-style': 'none' };
  for (const k in flat) s.setProperty(k, flat[k], 'important');
}

/**
 * modern-screenshot's filter and onCloneEachNode, applying the rules to its copy.
 * It copies depth first, one node at a time: filter(original) runs just before a node
 * is copied, onCloneEachNode(copy) once the copy's subtree is complete (shadow roots
 * and same-origin frames included). A copy does not know its original, so a stack of
 * the originals under way pairs the two; a blocked element's contents are never
 * copied. Should the pairing ever go wrong (another modern-screenshot), the tag names
 * disagree and the capture fails rather than hide the wrong things.
 */
function privacyHooks(r: Rules, exclude?: Element): Pick<RenderOptions, 'filter' | 'onCloneEachNode'> {
  const open: { el: Element; blocked: boolean }[] = [];
  const frameRoots = new WeakSet<Node>();
  const isRoot = (el: Element | null): el is Element => !!el && el === el.ownerDocument.documentElement;
  return {
    filter(n) {
      if (n === exclude || open[open.length - 1]?.blocked) return false;
      if (n.nodeType === Node.TEXT_NODE) return true; // copied without a callback
      if (n.nodeType !== Node.ELEMENT_NODE) return false; // CDATA, processing instructions: nothing to see
      const el = n as Element;
      // Nothing to see either; and a <meta> Content-Security-Policy copied into the picture
      // would apply to it, refusing every style the copy carries.
      if (/^(META|BASE)$/.test(el.nodeName)) return false;
      // a document's root element is never filtered: its block mark counts for its children
      const parent = el.parentElement;
      open.push({ el, blocked: el.matches(r.block) || (isRoot(parent) && parent.matches(r.block)) });
      return true;
    },
    onCloneEachNode(node) {
      const copy = node as HTMLElement;
      const top = open[open.length - 1];
      if (!top) {
        // the page's root element
        if (document.documentElement.matches(r.mask)) maskText(copy);
        return;
      }
      const { el, blocked } = top;
      if (el.nodeName === 'IFRAME' && copy.nodeName !== 'IFRAME' && !frameRoots.has(copy)) {
        // A same-origin frame is copied as its document's root element, which is announced
        // twice: first as itself (now), then as the frame's copy.
        frameRoots.add(copy);
        const root = (el as HTMLIFrameElement).contentDocument?.documentElement;
        if (root?.matches(r.mask)) maskText(copy);
        return;
      }
      open.pop();
      if (copy.nodeName !== el.nodeName && !/^(IFRAME|CANVAS|VIDEO)$/.test(el.nodeName)) {
        throw new Error('Sayso: page capture lost track of the page; nothing was captured');
      }
      if (blocked) return box(el, copy);
      // a frame it cannot see into (another origin, sandboxed) stays an empty box
      if (copy.nodeName === 'IFRAME') for (const a of ['src', 'srcdoc']) copy.removeAttribute(a);
      if (hidesValue(r, el)) emptyField(copy);
      if (el.matches(r.mask)) maskText(copy);
    },
  };
}

/**
 * modern-screenshot reads default styles from a blank frame, which it would add to the
 * page's <body> (and so to the page's DOM, its own scripts' view and the session
 * recording). Given the widget's host, the frame goes into its shadow root instead.
 */
async function scratchFrame(host: Element | undefined): Promise<HTMLIFrameElement | undefined> {
  const root = host?.shadowRoot;
  if (!root) return undefined;
  const f = document.createElement('iframe');
  f.width = f.height = '0';
  f.style.cssText = 'position:fixed;visibility:hidden;border:0'; // CSSOM, which a CSP allows
  f.srcdoc = '<!DOCTYPE html><meta charset="UTF-8"><title></title><body>';
  const loaded = new Promise((done) => {
    f.onload = done;
    setTimeout(done, 2000); // a blank about: document serves too
  });
  root.append(f);
  await loaded;
  return f;
}

export async function capture(o: CaptureOptions = {}): Promise<Blob> {
  const r = rules(o);
  const w = innerWidth;
  const h = innerHeight;
  const scale = Math.min(devicePixelRatio || 1, 2, MAX_SIDE / Math.max(w, h, 1));
  const bg = getComputedStyle(document.body).backgroundColor;
  const render = async (embedFonts: boolean) => {
    const options: RenderOptions & { sandbox?: HTMLIFrameElement } = {
      width: w,
      height: h,
      scale,
      type: 'image/png',
      backgroundColor: !bg || bg === 'rgba(0, 0, 0, 0)' ? '#fff' : bg,
      // show what is on screen: shift the page by the scroll offset
      style: { transform: `translate(${-scrollX}px, ${-scrollY}px)` },
      font: embedFonts ? {} : false,
      ...privacyHooks(r, o.exclude),
      sandbox: await scratchFrame(o.exclude),
    };
    const context = await createContext(document.documentElement, options);
    try {
      return await domToBlob(context);
    } finally {
      destroyContext(context); // removes the scratch frame
    }
  };
  // The page is drawn through an SVG data: URL image; a CSP without `img-src data:`
  // blocks it and the result would be blank: notice, and fail instead.
  let blocked = false;
  const onViolation = (e: SecurityPolicyViolationEvent) => {
    if (e.effectiveDirective === 'img-src' && /^data/.test(e.blockedURI)) blocked = true;
  };
  document.addEventListener('securitypolicyviolation', onViolation);
  try {
    let blob: Blob | null;
    try {
      blob = await render(true);
    } catch (e) {
      if ((e as Error)?.message?.startsWith('Sayso:')) throw e;
      // Embedding web fonts needs a <style> element, which a strict CSP (style-src without
      // 'unsafe-inline') refuses: render with the fallback fonts instead.
      blob = await render(false);
    }
    await new Promise((r) => setTimeout(r)); // violation events are queued as tasks
    if (blocked || !blob) throw new Error("Sayso: this page's Content-Security-Policy blocks page capture (it needs img-src data:)");
    return blob;
  } finally {
    document.removeEventListener('securitypolicyviolation', onViolation);
  }
}

export default capture;
