// The Install page waits for the project's first feedback: <p data-first-feedback="json url"
// data-inbox="inbox url">. It asks every 3 s (not while the tab is hidden) and, once
// something has arrived, says so and links to the inbox. Without this script the page
// says the same when reloaded.
const EVERY_MS = 3000;

export function initFirstFeedback(root: Document): void {
  const status = root.querySelector<HTMLElement>('[data-first-feedback]');
  const section = status?.closest('section');
  if (!status || !section || section.classList.contains('ok')) return;
  const url = status.dataset.firstFeedback ?? '';
  const ask = async (): Promise<void> => {
    if (root.visibilityState === 'visible') {
      try {
        const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
        const body = response.ok ? ((await response.json()) as { received?: boolean; inbox?: string }) : null;
        if (body?.received) return arrived(body.inbox);
      } catch {
        // offline for a moment: ask again
      }
    }
    window.setTimeout(() => void ask(), EVERY_MS);
  };
  const arrived = (inbox?: string) => {
    section.classList.add('ok');
    const title = section.querySelector('h2');
    if (title) title.textContent = 'Your first feedback arrived';
    const link = root.createElement('a');
    // the tab where it is (the widget tag may name an environment)
    link.href = inbox && inbox.startsWith('/') ? inbox : (status.dataset.inbox ?? '');
    link.textContent = 'Open the inbox';
    status.replaceChildren('It is in the inbox. ', link);
  };
  window.setTimeout(() => void ask(), EVERY_MS);
}
