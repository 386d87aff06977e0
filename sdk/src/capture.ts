/**
 * capture.js: loaded with import() only when the user clicks "Capture this page".
 * Renders the visible part of the page to a PNG with modern-screenshot.
 */
import { domToBlob } from 'modern-screenshot';

export interface CaptureOptions {
  /** An element to leave out of the image (the widget's own host). */
  exclude?: Element;
}

/** Longest side of the image, in pixels: keeps uploads (and queued data URLs) small. */
const MAX_SIDE = 2560;

export async function capture(o: CaptureOptions = {}): Promise<Blob> {
  const w = innerWidth;
  const h = innerHeight;
  const scale = Math.min(devicePixelRatio || 1, 2, MAX_SIDE / Math.max(w, h, 1));
  const bg = getComputedStyle(document.body).backgroundColor;
  const render = (embedFonts: boolean) =>
    domToBlob(document.documentElement, {
      width: w,
      height: h,
      scale,
      type: 'image/png',
      backgroundColor: !bg || bg === 'rgba(0, 0, 0, 0)' ? '#fff' : bg,
      filter: (n) => n !== o.exclude,
      // show what is on screen: shift the page by the scroll offset
      style: { transform: `translate(${-scrollX}px, ${-scrollY}px)` },
      font: embedFonts ? {} : false,
    });
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
    } catch {
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
