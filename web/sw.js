// Service worker: the site works offline after the first visit, and every response gets the
// security headers (COOP/COEP that WASM threads need, CSP, nosniff, no-referrer), even on hosts
// that cannot set headers.
//
// Everything needed to start (app, runtime, Python package, models/index.json) is served from
// this worker's own versioned cache, never from the browser's HTTP cache, which can expire.
// Every cached file is checked against the build's SHA-256 each time it is served: a bad,
// truncated or missing entry is deleted and fetched again, and when that cannot be done
// (offline) the answer is a 504 whose `Offcut-Error` header carries an error code that the
// app turns into words. The model parts are not cached here: the app keeps them in IndexedDB.

const BUILD = '__BUILD_ID__';
const CACHE = `offcut-${BUILD}`;
// build.py fills in its SECURITY_HEADERS (one list for its server, this worker and the
// README's host snippets): COOP/COEP/CORP for isolation, CSP with frame-ancestors (a <meta>
// CSP cannot forbid framing), nosniff and no-referrer.
const HEADERS = {/*__SECURITY_HEADERS__*/};
// build.py fills in {path relative to the site root: sha256 hex} of every precached file.
const FILES = {/*__PRECACHE__*/};
// The app asks for this (it exists on no server) after a failed start, to learn which cached
// file is at fault: {problems: [{path, code, message}]}.
const CHECK_PATH = 'sw-check.json';

const root = () => new URL(self.registration.scope);

/** A precached file's path relative to the site root, or null. '/' is index.html. */
function precachedPath(url) {
  const scope = root();
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
  const path = url.pathname.slice(scope.pathname.length) || 'index.html';
  return Object.hasOwn(FILES, path) ? path : null;
}

/** Where a file is fetched from and cached under. index.html is fetched as './' because some
 *  hosts redirect /index.html to /, and a redirected response cannot answer a navigation. */
const keyFor = (path) => new URL(path === 'index.html' ? '' : path, root()).href;

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The body of `response` when it is exactly the build's file, else null. */
async function verifiedBody(response, path) {
  if (!response || !response.ok) return null;
  try {
    const body = await response.arrayBuffer();
    return (await sha256Hex(body)) === FILES[path] ? body : null;
  } catch {
    return null; // an entry that cannot even be read is as bad as a wrong one
  }
}

function withHeaders(headers) {
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(HEADERS)) merged.set(name, value);
  return merged;
}

/** Whether a cached response already carries every security header with this build's value
 *  (an entry kept by an earlier sw.js of the same build, whose cache name is the same, may not). */
const isolated = (response) => Object.entries(HEADERS).every(([name, value]) => response.headers.get(name) === value);

/** Keep a verified file, stored with the security headers so that it can be served as it is. */
const keep = (cache, path, body, headers) =>
  cache.put(keyFor(path), new Response(body, { headers: withHeaders(headers) }));

function isolate(response) {
  if (!response || response.type === 'opaque' || response.status === 0) return response;
  return new Response(response.body,
    { status: response.status, statusText: response.statusText, headers: withHeaders(response.headers) });
}

function failure(code, path, message) {
  const headers = withHeaders({ 'Content-Type': 'application/json', 'Offcut-Error': code });
  return new Response(JSON.stringify({ code, path, message }), { status: 504, headers });
}

/** Fetch a file past the HTTP cache and keep it when it is the build's. Resolves the body, or
 *  {code, message} when it cannot be had. */
async function refetch(cache, path) {
  let response;
  try {
    response = await fetch(keyFor(path), { cache: 'reload' });
  } catch (error) {
    // A controlling worker had every file once (install checks them all), so a missing entry
    // is a damaged one too.
    return { code: 'cache-corrupt-offline', message: `${path}: ${error.message}` };
  }
  const headers = response.headers;
  const body = await verifiedBody(response, path);
  if (!body) {
    const why = response.ok ? `sha256 is not build ${BUILD}'s` : `HTTP ${response.status}`;
    return { code: 'asset-corrupt', message: `${path}: ${why}` };
  }
  await keep(cache, path, body, headers).catch(() => {});
  return { body, headers };
}

/** A precached file, verified: from the cache, else (healing a bad entry) from the network. */
async function serveFile(path) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(keyFor(path));
  if (cached) {
    // The cache's own response, checked through a copy: a response built from its bytes
    // instead would lose the compiled code Chromium keeps beside a cached .wasm, and both
    // runtimes' wasm would be compiled again on every visit.
    const body = await verifiedBody(cached.clone(), path);
    if (body) return isolated(cached) ? cached : new Response(body, { headers: withHeaders(cached.headers) });
    await cache.delete(keyFor(path));
  }
  const fresh = await refetch(cache, path);
  if (fresh.code) return failure(fresh.code, path, fresh.message);
  return new Response(fresh.body, { headers: withHeaders(fresh.headers) });
}

async function checkAll() {
  const problems = [];
  for (const path of Object.keys(FILES)) {
    const response = await serveFile(path);
    if (!response.ok) problems.push(await response.json());
  }
  const headers = withHeaders({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  return new Response(JSON.stringify({ build: BUILD, problems }), { headers });
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(Object.keys(FILES).map(async (path) => {
      // The HTTP cache may answer here (the page has just loaded these files): the hash
      // decides, and a stale or damaged copy is fetched once more past it.
      const first = await fetch(keyFor(path));
      const body = await verifiedBody(first, path);
      if (body) {
        await keep(cache, path, body, first.headers);
        return;
      }
      const fresh = await refetch(cache, path);
      if (fresh.code) throw new Error(fresh.message); // keep the previous worker
    }));
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

async function respond(request) {
  const url = new URL(request.url);
  const path = precachedPath(url);
  if (path) return serveFile(path);
  if (url.pathname === new URL(CHECK_PATH, root()).pathname) return checkAll();
  try {
    return isolate(await fetch(request));
  } catch (error) {
    // Any other page of the site, offline: the app's shell.
    if (request.mode === 'navigate') return serveFile('index.html');
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(respond(request));
});
