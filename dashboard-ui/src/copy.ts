// Copy buttons: <button type="button" data-copy="element-id" hidden>. They start
// hidden so a page without this script shows no dead buttons.
export function initCopyButtons(root: Document): void {
  for (const button of root.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    button.hidden = false;
    const label = button.textContent ?? 'Copy';
    button.addEventListener('click', async () => {
      const source = root.getElementById(button.dataset.copy ?? '');
      if (!source) return;
      const text = source instanceof HTMLInputElement ? source.value : (source.textContent ?? '');
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch {
        // No clipboard permission (plain http, an old browser): select it for Ctrl+C instead.
        const range = root.createRange();
        range.selectNodeContents(source);
        root.getSelection()?.removeAllRanges();
        root.getSelection()?.addRange(range);
        button.textContent = 'Press Ctrl+C';
      }
      window.setTimeout(() => (button.textContent = label), 2000);
    });
  }
}
