import type { Theme } from '../types';

// widget.css, minified by the build (see build.mjs)
export { default as CSS } from './widget.css';

// A theme value may come from a data attribute: keep it to one CSS value.
const safe = (v: unknown): v is string => typeof v == 'string' && /^[^;{}<>\\]{1,200}$/.test(v);

/** Readable text on the primary colour: dark text on light hex colours. */
export function onPrimary(c: string): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c.trim());
  if (!m) return '#fff';
  const x = m[1].length == 3 ? [...m[1]].map((d) => d + d).join('') : m[1];
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(x.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 166 ? '#111' : '#fff';
}

/** The theme option as custom properties (more specific than the scheme defaults). */
export function themeCss(t: Theme = {}): string {
  const map: [keyof Theme, string][] = [['primary', 'p'], ['background', 'bg'], ['text', 'tx'], ['border', 'bd'], ['shadow', 'sh']];
  let s = '';
  for (const [k, v] of map) if (safe(t[k])) s += `--${v}:${t[k]};`;
  if (safe(t.primary)) s += `--pt:${onPrimary(t.primary)};`;
  return s && `.r.r{${s}}`;
}
