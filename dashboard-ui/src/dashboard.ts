// The dashboard's only script, loaded with `defer` on every page. Each feature
// looks for its own data-* hooks and does nothing when they're absent; every
// page works without it (forms post, links navigate), this only makes it quicker.
import { initConfirmations } from './confirm';
import { initCopyButtons } from './copy';
import { initFilters } from './filters';
import { initFirstFeedback } from './first-feedback';
import { initLightbox } from './lightbox';
import { initNav } from './nav';
import { initSelection, initShortcuts } from './shortcuts';

initConfirmations(document);
initCopyButtons(document);
initFilters(document);
initFirstFeedback(document);
initLightbox(document);
initNav(document);
initSelection(document);
initShortcuts(document);
