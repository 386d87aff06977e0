// Inbox selection and keyboard shortcuts.
//
// Rows are <tr class="feedback-row"> inside the bulk form (#bulk); triage keys
// submit that form's own buttons, so a shortcut does exactly what clicking
// would (same CSRF token, same server checks, same redirect back).
const TYPING = 'input, textarea, select, [contenteditable="true"]';
const STATUS_KEYS: Record<string, string> = { e: 'archived', r: 'resolved', i: 'in_progress', n: 'new' };

export function initSelection(root: Document): void {
  const all = root.querySelector<HTMLInputElement>('input[data-select-all]');
  if (!all) return;
  const boxes = (): HTMLInputElement[] => [...root.querySelectorAll<HTMLInputElement>('tr.feedback-row input[name="ids"]')];
  all.addEventListener('change', () => boxes().forEach((box) => (box.checked = all.checked)));
}

function helpDialog(root: Document): HTMLDialogElement {
  const dialog = root.createElement('dialog');
  dialog.className = 'shortcuts-help';
  dialog.setAttribute('aria-label', 'Keyboard shortcuts');
  const rows: [string, string][] = [
    ['j / k', 'next / previous feedback'],
    ['o', 'open it'],
    ['x', 'select it'],
    ['e', 'archive (the selection, or the current one)'],
    ['r', 'resolve'],
    ['i', 'mark in progress'],
    ['n', 'mark new'],
    ['/', 'search'],
    ['?', 'this help'],
  ];
  const list = root.createElement('dl');
  for (const [keys, what] of rows) {
    const dt = root.createElement('dt');
    dt.textContent = keys;
    const dd = root.createElement('dd');
    dd.textContent = what;
    list.append(dt, dd);
  }
  const close = root.createElement('button');
  close.type = 'button';
  close.textContent = 'Close';
  close.addEventListener('click', () => dialog.close());
  const title = root.createElement('h2');
  title.textContent = 'Keyboard shortcuts';
  dialog.append(title, list, close);
  root.body.append(dialog);
  return dialog;
}

const CURSOR_KEY = 'sayso:cursor';
const here = (): string => location.pathname + location.search;

/** Keeps the cursor's row number for the list the triage change leads back to (``url``). */
function remember(url: string, index: number): void {
  try {
    sessionStorage.setItem(CURSOR_KEY, JSON.stringify({ url, index }));
  } catch {
    // storage blocked: the list starts at the top, as without this script
  }
}

/** The row number kept for this very list (then forgotten), or -1. */
function recalled(): number {
  try {
    const kept = JSON.parse(sessionStorage.getItem(CURSOR_KEY) ?? 'null') as { url?: string; index?: number } | null;
    sessionStorage.removeItem(CURSOR_KEY);
    return kept?.url === here() && typeof kept.index == 'number' ? kept.index : -1;
  } catch {
    return -1;
  }
}

export function initShortcuts(root: Document): void {
  const rows = [...root.querySelectorAll<HTMLTableRowElement>('tr.feedback-row')];
  const bulk = root.querySelector<HTMLFormElement>('form#bulk');
  const detail = root.querySelector<HTMLFormElement>('form.triage');
  if (!rows.length && !detail) return;
  let help: HTMLDialogElement | null = null;
  let current = -1;

  const move = (to: number): void => {
    if (!rows.length) return;
    rows[current]?.classList.remove('current');
    current = Math.max(0, Math.min(rows.length - 1, to));
    const row = rows[current];
    row.classList.add('current');
    row.querySelector<HTMLAnchorElement>('a[data-open]')?.focus({ preventScroll: true });
    row.scrollIntoView({ block: 'nearest' });
  };
  const checkbox = (row: HTMLTableRowElement | undefined): HTMLInputElement | null =>
    row?.querySelector<HTMLInputElement>('input[name="ids"]') ?? null;

  const setStatus = (status: string): void => {
    if (detail) {
      detail.querySelector<HTMLButtonElement>(`button[data-shortcut-status="${status}"]`)?.click();
      return;
    }
    if (!bulk) return;
    const anyChecked = rows.some((row) => checkbox(row)?.checked);
    if (!anyChecked) {
      const box = checkbox(rows[current]);
      if (!box) return;
      box.checked = true;
    }
    const button = bulk.querySelector<HTMLButtonElement>(`button[value="status:${status}"]`);
    if (!button) return;
    // the list the server sends us back to (the form's "next")
    remember(bulk.querySelector<HTMLInputElement>('input[name="next"]')?.value ?? here(), current);
    bulk.requestSubmit(button);
  };

  // Back from a triage change, the cursor is where it was: on the same row, or on the one
  // that took its place when the change moved it out of this view.
  const kept = recalled();
  if (kept >= 0 && rows.length) move(kept);

  root.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.metaKey || event.ctrlKey || event.altKey) return;
    const target = event.target as Element | null;
    if (target?.closest(TYPING) || root.querySelector('dialog[open]')) return;
    const key = event.key;
    if (key === 'j') move(current + 1);
    else if (key === 'k') move(current - 1);
    // Enter needs no case of its own: j/k focus the row's link, and Enter follows it.
    else if (key === 'o' && current >= 0) rows[current].querySelector<HTMLAnchorElement>('a[data-open]')?.click();
    else if (key === 'x' && current >= 0) {
      const box = checkbox(rows[current]);
      if (box) box.checked = !box.checked;
    } else if (key in STATUS_KEYS) setStatus(STATUS_KEYS[key]);
    else if (key === '/') root.querySelector<HTMLInputElement>('[data-shortcut="search"]')?.focus();
    else if (key === '?') (help ??= helpDialog(root)).showModal();
    else return;
    event.preventDefault();
  });
}
