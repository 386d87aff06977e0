// Marks the project tab the current page belongs to (aria-current), so people
// and screen readers know where they are. A feedback item belongs to the
// Inbox, a replay to Replays.
const SECTIONS: [RegExp, string][] = [
  [/\/feedback\//, '/inbox'],
  [/\/replays\//, '/replays'],
];

export function initNav(root: Document): void {
  const links = [...root.querySelectorAll<HTMLAnchorElement>('nav[aria-label="Project"] a')];
  let path = root.location.pathname;
  for (const [pattern, section] of SECTIONS) {
    if (pattern.test(path)) path = path.replace(/\/(feedback|replays)\/.*$/, section);
  }
  links.find((link) => link.pathname === path)?.setAttribute('aria-current', 'page');
}
