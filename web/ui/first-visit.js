// On a first visit (no service worker has this page yet), say what the visit downloads,
// where the model is chosen: the app once, then the model. Returning visits load everything
// from this device and see nothing.

import { megabytes } from '../messages.js';

export async function showFirstVisitSize(element) {
  if (navigator.serviceWorker?.controller) return;
  try {
    const response = await fetch('./precache.json', { cache: 'no-cache' });
    const { app_bytes: bytes } = await response.json();
    if (!bytes) return;
    element.textContent = `This first visit downloads the app (${megabytes(bytes)}, about half that `
      + 'where the host compresses) and the model chosen above, once. After that Offcut works offline.';
    element.hidden = false;
  } catch {
    // Not worth an error: the sizes on the model cards still say what the model costs.
  }
}
