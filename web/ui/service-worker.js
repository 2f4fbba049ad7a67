// Registers sw.js, which keeps the app for offline use (each file checked against the build's
// SHA-256) and adds the security headers, among them the cross-origin isolation (COOP/COEP)
// that multi-threaded WebAssembly needs, on static hosts that cannot send them.
// Headers only apply to pages the service worker served, so the very first visit is not
// isolated: reload once when the worker takes control, guarded so it can never loop.

const RELOAD_FLAG = 'offcut.reloaded-for-isolation';

export function registerServiceWorker() {
  const container = navigator.serviceWorker;
  if (!container) return; // not supported, or not a secure context: the app still works
  const controlledAtStart = Boolean(container.controller);
  if (!controlledAtStart) {
    container.addEventListener('controllerchange', () => {
      if (globalThis.crossOriginIsolated) return;
      try {
        if (sessionStorage.getItem(RELOAD_FLAG)) return;
        sessionStorage.setItem(RELOAD_FLAG, '1');
      } catch {
        return; // without sessionStorage we cannot guard against a loop, so do not reload
      }
      location.reload();
    }, { once: true });
  }
  container.register('./sw.js', { scope: './' }).catch(() => {
    // No service worker (e.g. a plain file server in development): single-threaded, online only.
  });
}
