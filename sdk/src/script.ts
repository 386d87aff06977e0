/** Reading the <script> tag that loaded the widget. */
import type { Options } from './types';

/**
 * `https://sayso.example/widget.js` or `…/widget/sayso.mjs` → `https://sayso.example`
 * (a path prefix in front of /widget is kept). Any other URL: its origin when
 * fallbackToOrigin, else "" (same origin as the page).
 */
export function baseFromScript(src: string | undefined, fallbackToOrigin: boolean): string {
  try {
    const u = new URL(src || '');
    if (!/^https?:$/.test(u.protocol)) return '';
    const path = u.pathname.replace(/\/widget(\.js|\/[^/]*)$/, '');
    return path !== u.pathname ? u.origin + path : fallbackToOrigin ? u.origin : '';
  } catch {
    return '';
  }
}

/** Options from the script tag's data attributes ("false" turns the email / screenshot options off). */
export function optionsFromScript(s: Pick<HTMLScriptElement, 'dataset' | 'nonce'>): Options {
  const d = s.dataset;
  return {
    clientId: d.clientId || '',
    baseUrl: d.baseUrl,
    environment: d.environment,
    position: d.position as Options['position'],
    theme: d.themePrimary ? { primary: d.themePrimary } : undefined,
    // data-theme="light|dark|auto" is accepted as a synonym of data-color-scheme.
    colorScheme: (d.colorScheme || d.theme) as Options['colorScheme'],
    launcher: d.launcher as Options['launcher'],
    locale: d.locale,
    title: d.title,
    placeholder: d.placeholder,
    showEmailOption: d.showEmail !== 'false',
    showScreenshotOption: d.showScreenshot !== 'false',
    nonce: s.nonce || undefined,
    // data-replay, or data-replay="0.25" to record a quarter of sessions
    replay: d.replay != null && d.replay !== 'false',
    replaySampleRate: parseFloat(d.replay as string),
    // what recordings and page captures leave out, besides the defaults (privacy.ts)
    privacyBlockSelector: d.privacyBlockSelector,
    privacyMaskSelector: d.privacyMaskSelector,
  };
}
