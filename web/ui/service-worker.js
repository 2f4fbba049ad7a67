// Registers sw.js, which keeps the app for offline use (each file checked against the build's
// SHA-256) and adds the security headers, among them the cross-origin isolation (COOP/COEP)
// that multi-threaded WebAssembly needs, on static hosts that cannot send them.
// Headers only apply to pages the service worker served, so on such a host the very first
// visit is not isolated (it runs on one thread). Reloading once fixes that, but a reload
// throws away whatever the page holds, so it happens only while the page holds nothing: the
// user has not touched it, no photo is picked or shown, and no model is downloading (a
// download cut short would start over). Otherwise this visit stays on one thread and the
// next one is isolated. Guarded by sessionStorage so it can never loop.

const RELOAD_FLAG = 'offcut.reloaded-for-isolation';
// A first visit registers the service worker once the engine has started, or after this.
const FIRST_VISIT_WAIT_MS = 60_000;

/**
 * @param {object} hooks
 *   after: a promise; on a first visit (no service worker controls the page) registration
 *   waits for it, at most FIRST_VISIT_WAIT_MS: the worker's precache would otherwise download
 *   the runtime a second time while the app's own requests for it are under way;
 *   idle() -> true while a reload would lose nothing (see above; the app knows);
 *   onReload(), called just before the page reloads (to say why);
 *   onReloaded(), called once on the load that follows such a reload.
 * @returns {{settled: () => void}} call `settled()` when the app may have become idle (a
 *   download ended): a reload that was waiting happens then, if the page is still untouched.
 */
export function registerServiceWorker({
  after = null, idle = () => true, onReload = () => {}, onReloaded = () => {},
} = {}) {
  const container = navigator.serviceWorker;
  const none = { settled() {} };
  if (!container) return none; // not supported, or not a secure context: the app still works
  let flagged = false;
  try {
    flagged = Boolean(sessionStorage.getItem(RELOAD_FLAG));
  } catch {
    // no sessionStorage: never reload (below), so nothing to report either
  }
  if (flagged && globalThis.crossOriginIsolated) queueMicrotask(onReloaded);

  let touched = false;
  let waiting = false; // the service worker took control and a reload is still wanted
  const touch = () => { touched = true; };
  for (const type of ['pointerdown', 'keydown', 'dragenter', 'paste', 'drop']) {
    document.addEventListener(type, touch, { capture: true, passive: true });
  }

  const reloadIfIdle = () => {
    if (!waiting || touched || !idle()) return;
    waiting = false;
    try {
      if (sessionStorage.getItem(RELOAD_FLAG)) return;
      sessionStorage.setItem(RELOAD_FLAG, '1');
    } catch {
      return; // without sessionStorage we cannot guard against a loop, so do not reload
    }
    onReload();
    location.reload();
  };

  if (!container.controller && !globalThis.crossOriginIsolated) {
    container.addEventListener('controllerchange', () => {
      waiting = true;
      reloadIfIdle();
    }, { once: true });
  }
  const register = () => container.register('./sw.js', { scope: './' }).catch(() => {
    // No service worker (e.g. a plain file server in development): single-threaded, online only.
  });
  if (container.controller || !after) {
    register(); // a return visit: the new build's worker finds most files in the old cache
  } else {
    const waited = new Promise((resolve) => { setTimeout(resolve, FIRST_VISIT_WAIT_MS); });
    Promise.race([after, waited]).then(seedCache).catch(() => {}).finally(register);
  }
  return { settled: reloadIfIdle };
}

/** A first visit's page has just loaded the runtime; the service worker's install would
 *  download it again (its fetches do not share the page's HTTP cache in Chromium). So the
 *  files the HTTP cache holds are put in the worker's cache (sw.js's `offcut-<build>`) first,
 *  never from the network (`only-if-cached`); the install checks each against the build's
 *  SHA-256 as it would a download, and fetches the rest. */
async function seedCache() {
  if (!globalThis.caches) return;
  const root = new URL('./', location.href);
  const manifest = await (await fetch(new URL('precache.json', root), { cache: 'force-cache' })).json();
  const cache = await caches.open(`offcut-${manifest.build}`);
  const lazy = new Set(manifest.lazy || []);
  await Promise.all(manifest.files.filter((path) => !lazy.has(path)).map(async (path) => {
    const url = new URL(path === 'index.html' ? '' : path, root).href; // sw.js's keyFor
    const response = await fetch(url, { cache: 'only-if-cached', mode: 'same-origin' })
      .catch(() => null);
    if (response?.ok) await cache.put(url, response).catch(() => {});
  }));
}
