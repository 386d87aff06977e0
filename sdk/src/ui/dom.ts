/**
 * Tiny DOM helpers. Text always goes in as text nodes and attributes through
 * setAttribute, never as HTML, so strings from options or the server can't inject markup.
 */
type Kid = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...kids: Kid[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (tag == 'button') (el as HTMLButtonElement).type = 'button'; // not submit, unless asked
  for (const k in attrs) {
    const v = attrs[k];
    if (typeof v == 'function') el.addEventListener(k, v);
    else if (v != null && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids) if (c) el.append(c);
  return el;
}

/** A 24x24 SVG icon from one path. */
export function icon(d: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const s = document.createElementNS(ns, 'svg');
  const p = document.createElementNS(ns, 'path');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  p.setAttribute('d', d);
  s.append(p);
  return s;
}

/** The focused element, looking through open shadow roots. */
export function deepActive(): HTMLElement | null {
  let a = document.activeElement;
  while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
  return a as HTMLElement | null;
}
