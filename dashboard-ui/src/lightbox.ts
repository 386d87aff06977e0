// Screenshot lightbox: links marked data-lightbox open their image in a modal
// <dialog> (Escape closes it, arrow keys step through the page's screenshots)
// instead of navigating away. Without the script the link opens the image.
export function initLightbox(root: Document): void {
  const links = [...root.querySelectorAll<HTMLAnchorElement>('a[data-lightbox]')];
  if (!links.length) return;
  const dialog = root.createElement('dialog');
  dialog.className = 'lightbox';
  dialog.setAttribute('aria-label', 'Screenshot');
  const image = root.createElement('img');
  const caption = root.createElement('p');
  const close = root.createElement('button');
  close.type = 'button';
  close.textContent = 'Close';
  close.className = 'lightbox-close';
  close.addEventListener('click', () => dialog.close());
  dialog.append(close, image, caption);
  root.body.append(dialog);
  let current = 0;

  const show = (index: number): void => {
    current = (index + links.length) % links.length;
    const link = links[current];
    image.src = link.href;
    image.alt = link.querySelector('img')?.alt ?? 'Screenshot';
    caption.textContent = links.length > 1 ? `${current + 1} of ${links.length}` : '';
    if (!dialog.open) dialog.showModal();
  };

  links.forEach((link, index) =>
    link.addEventListener('click', (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey) return; // "open in new tab" still works
      event.preventDefault();
      show(index);
    }),
  );
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowRight') show(current + 1);
    if (event.key === 'ArrowLeft') show(current - 1);
  });
  // A click on the backdrop (the dialog itself, outside the image) closes it.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
}
