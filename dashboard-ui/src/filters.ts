// "More filters" is a <details> so phones see a short form; on a wide screen
// there's room for all of it, so it starts open there.
export function initFilters(root: Document): void {
  if (!window.matchMedia('(min-width: 45rem)').matches) return;
  root.querySelectorAll<HTMLDetailsElement>('details.more-filters').forEach((details) => (details.open = true));
}
