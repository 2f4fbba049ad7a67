// Service worker: the site works offline after the first visit, and every response gets the
// cross-origin isolation headers (COOP/COEP) that WASM threads need, even on hosts that cannot
// set headers. Models are not cached here: the app keeps them in IndexedDB.

const BUILD = '__BUILD_ID__';
const CACHE = `offcut-${BUILD}`;
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
    "img-src 'self' blob: data:; connect-src 'self'; worker-src 'self' blob:; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'",
};

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
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
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
