/**
 * The one set of privacy rules behind both ways of capturing a page: the session
 * recorder (replay.js, through rrweb's options) and "Capture this page" (capture.js,
 * on modern-screenshot's copy of the DOM). Neither widget.js nor sayso.mjs bundles it.
 *
 * - blocked: the element and everything in it is left out; a plain box of its size stays;
 * - masked text: each non-blank character of the text under the element becomes a bullet;
 * - field values: hidden by default; passwords, card fields and one-time codes always.
 */
import type { PrivacyOptions } from './types';

/** Always blocked: the widget itself, and Sayso's, Usero's and rrweb's block marks. */
export const BLOCK = 'sayso-feedback,.sayso-block,.usero-block,[data-sayso-block],[data-usero-block],.rr-block';
/** Text always masked under these. */
export const MASK = '.sayso-mask,.usero-mask,[data-sayso-mask],[data-usero-mask],.rr-mask';

export interface Rules {
  /** A valid CSS selector of blocked elements. */
  block: string;
  /** A valid CSS selector of elements whose text is masked. */
  mask: string;
  /** Hide every field's value (otherwise only the secret ones). */
  maskAllInputs: boolean;
}

/** The subset of an element the field rule reads (a real one, or a test's plain object). */
export interface Field {
  tagName: string;
  type?: string;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
}

const isSelector = (s: string): boolean => {
  try {
    document.createDocumentFragment().querySelector(s);
    return true;
  } catch {
    return false;
  }
};

/** Ours plus the page's, when the page's one is valid CSS (an invalid one would break every match). */
function join(ours: string, extra: string | undefined, valid: (s: string) => boolean): string {
  if (!extra) return ours;
  if (valid(extra)) return `${ours},${extra}`;
  console.warn('Sayso: ignoring an invalid privacy selector', extra);
  return ours;
}

/** The rules of these options; the privacy* names win over their old replay* aliases. */
export function rules(o: PrivacyOptions, valid: (s: string) => boolean = isSelector): Rules {
  return {
    block: join(BLOCK, o.privacyBlockSelector ?? o.replayBlockSelector, valid),
    mask: join(MASK, o.privacyMaskSelector ?? o.replayMaskSelector, valid),
    maskAllInputs: (o.privacyMaskAllInputs ?? o.replayMaskAllInputs) !== false,
  };
}

/**
 * Fields hidden whatever the options say: passwords (rrweb marks one that a "show
 * password" toggle turned into text with data-rr-is-password), and fields the page
 * marks, through autocomplete, as a password, a payment card or a one-time code.
 */
export const isSecret = (el: Field): boolean =>
  el.type === 'password' || el.hasAttribute('data-rr-is-password') || /password|cc-|one-time-code/i.test(el.getAttribute('autocomplete') || '');

/**
 * Whether this element's value is hidden: textareas, selects and inputs, except the
 * ones whose value is the page's own text or a state (buttons, checkboxes, radios).
 * Hidden inputs always are: nobody sees them, and they often hold tokens.
 */
export function hidesValue(r: Rules, el: Field): boolean {
  const tag = el.tagName.toUpperCase();
  if (tag !== 'INPUT') return (tag === 'TEXTAREA' || tag === 'SELECT') && (r.maskAllInputs || isSecret(el));
  const type = (el.type || '').toLowerCase();
  if (/^(button|submit|reset|image|checkbox|radio)$/.test(type)) return false;
  return r.maskAllInputs || type === 'hidden' || isSecret(el);
}

/** Masked text: every non-blank character becomes a bullet, so its length and lines stay. */
export const bullets = (s: string): string => s.replace(/\S/g, '•');

/**
 * rrweb's options for these rules. Every field goes through maskInputFn (rrweb looks
 * maskInputOptions up by tag name, then by type), which decides with hidesValue and
 * masks as rrweb would (one `*` per character).
 */
export function recordOptions(r: Rules) {
  return {
    maskInputOptions: { input: true, textarea: true, select: true } as Record<string, boolean>,
    maskInputFn: (text: string, el: HTMLElement) => (hidesValue(r, el as HTMLInputElement) ? '*'.repeat(text.length) : text),
    blockSelector: r.block,
    maskTextSelector: r.mask,
  };
}
