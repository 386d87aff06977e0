// Buttons with data-confirm ask before their form is submitted (deleting
// feedback). The question is the attribute's text, set by our templates only.
export function initConfirmations(root: Document): void {
  root.addEventListener('click', (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button[data-confirm]');
    if (button && !window.confirm(button.dataset.confirm ?? 'Are you sure?')) event.preventDefault();
  });
}
