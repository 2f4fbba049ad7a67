// Service worker: the site works offline after the first visit, and every response gets the
// security headers (COOP/COEP that WASM threads need, CSP, nosniff, no-referrer), even on hosts
// that cannot set headers. Models are not cached here: the app keeps them in IndexedDB.

const BUILD = '__BUILD_ID__';
const CACHE = `offcut-${BUILD}`;
// build.py fills in its SECURITY_HEADERS (one list for its server, this worker and the
// README's host snippets): COOP/COEP/CORP for isolation, CSP with frame-ancestors (a <meta>
// CSP cannot forbid framing), nosniff and no-referrer.
const HEADERS = {/*__SECURITY_HEADERS__*/};

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const manifest = await (await fetch('./precache.json', { cache: 'no-cache' })).json();
    await cache.addAll(['./', ...manifest.files.map((f) => `./${f}`)]);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('offcut-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

function isolate(response) {
  if (!response || response.type === 'opaque' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function respond(request) {
  const url = new URL(request.url);
  if (url.pathname.includes('/models/')) return isolate(await fetch(request));
  const cached = await caches.match(request, { ignoreSearch: true, cacheName: CACHE });
  if (cached) return isolate(cached);
  try {
    return isolate(await fetch(request));
  } catch (error) {
    if (request.mode === 'navigate') {
      const shell = await caches.match('./', { cacheName: CACHE });
      if (shell) return isolate(shell);
    }
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(respond(request));
});
