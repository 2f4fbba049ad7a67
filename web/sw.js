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
//
// A new build's worker copies every file whose SHA-256 is unchanged from the earlier build's
// cache, so an update downloads only the files that changed. The files only WebGPU needs (LAZY)
// are not fetched at install: a device without a GPU never uses them. They are fetched,
// verified and kept like the others the first time they are asked for (ort-host.js, on a
// WebGPU session), and from then on served offline.

const BUILD = '__BUILD_ID__';
const CACHE = `offcut-${BUILD}`;
// build.py fills in its SECURITY_HEADERS (one list for its server, this worker and the
// README's host snippets): COOP/COEP/CORP for isolation, CSP with frame-ancestors (a <meta>
// CSP cannot forbid framing), nosniff and no-referrer.
const HEADERS = {/*__SECURITY_HEADERS__*/};
// build.py fills in {path relative to the site root: sha256 hex} of every precached file.
const FILES = {/*__PRECACHE__*/};
// build.py fills in the paths of FILES that only WebGPU sessions load (onnxruntime's JSEP
// build: 27 MiB of its 42): kept when first used, not at install.
const LAZY = new Set([/*__LAZY__*/]);
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

/** Fetch a file past the HTTP cache and keep it in `cache` (when given) if it is the build's.
 *  Resolves {body, headers}, or {code, message} when it cannot be had. */
async function refetch(cache, path) {
  let response;
  try {
    response = await fetch(keyFor(path), { cache: 'reload' });
  } catch (error) {
    // A controlling worker had every file once (install checks them all), so a missing entry
    // is a damaged one too. A LAZY file may never have been fetched: the same code, since
    // either way the file is not here and the network cannot be reached.
    return { code: 'cache-corrupt-offline', message: `${path}: ${error.message}` };
  }
  const headers = response.headers;
  const body = await verifiedBody(response, path);
  if (!body) {
    const why = response.ok ? `sha256 is not build ${BUILD}'s` : `HTTP ${response.status}`;
    return { code: 'asset-corrupt', message: `${path}: ${why}` };
  }
  if (cache) await keep(cache, path, body, headers).catch(() => {});
  return { body, headers };
}

/** Whether a newer build's worker has activated and deleted this build's cache. It activates
 *  as soon as it has installed, which (copying the unchanged files) can be while a page this
 *  worker answers is still loading. */
async function superseded() {
  if (await caches.has(CACHE)) return false;
  // Every cache gone (storage cleared or evicted) is not that: this worker fills its own again.
  return (await caches.keys()).some((name) => name.startsWith('offcut-'));
}

/** A precached file, verified: from the cache, else (healing a bad entry) from the network.
 *  Only a repair opens the cache (caches.open creates a missing one): a superseded worker
 *  that did so would leave behind a cache no build uses. Its page gets the file from the
 *  newer build's cache when unchanged, else from the network, kept nowhere. */
async function serveFile(path) {
  const cached = await caches.match(keyFor(path), { cacheName: CACHE })
    || (await superseded() && await caches.match(keyFor(path)));
  if (cached) {
    // The cache's own response, checked through a copy: a response built from its bytes
    // instead would lose the compiled code Chromium keeps beside a cached .wasm, and both
    // runtimes' wasm would be compiled again on every visit.
    const body = await verifiedBody(cached.clone(), path);
    if (body) return isolated(cached) ? cached : new Response(body, { headers: withHeaders(cached.headers) });
  }
  const cache = await superseded() ? null : await caches.open(CACHE);
  if (cached && cache) await cache.delete(keyFor(path));
  // A LAZY file not kept yet may be in the HTTP cache: a WebGPU session of the first visit,
  // whose page this worker did not control yet, fetched it past this worker.
  const fresh = !cached && cache && LAZY.has(path)
    ? await fetchToKeep(cache, path) : await refetch(cache, path);
  if (fresh.code) return failure(fresh.code, path, fresh.message);
  return new Response(fresh.body, { headers: withHeaders(fresh.headers) });
}

async function checkAll() {
  const problems = [];
  for (const path of Object.keys(FILES)) {
    // A LAZY file not kept yet is not a problem (nothing has used it): checking it would
    // download 27 MiB that only a WebGPU session wants.
    if (LAZY.has(path) && !(await caches.match(keyFor(path), { cacheName: CACHE }))) continue;
    const response = await serveFile(path);
    if (!response.ok) problems.push(await response.json());
  }
  const headers = withHeaders({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  return new Response(JSON.stringify({ build: BUILD, problems }), { headers });
}

/** The other builds' caches (normally the one this worker replaces). */
async function earlierCaches() {
  const names = (await caches.keys()).filter((name) => name.startsWith('offcut-') && name !== CACHE);
  return Promise.all(names.map((name) => caches.open(name)));
}

/** `path` as an earlier build's cache has it, when its bytes are this build's (checked here,
 *  not trusted: that copy may be damaged): {body, headers}; else null. `seen` is set when any
 *  copy was there, matching or not. */
async function reusable(earlier, path, seen) {
  for (const cache of earlier) {
    const response = await cache.match(keyFor(path));
    if (!response) continue;
    seen.any = true;
    const headers = response.headers;
    const body = await verifiedBody(response, path);
    if (body) return { body, headers };
  }
  return null;
}

/** Fetch `path`, letting the HTTP cache answer whatever its freshness (a first visit's page
 *  has just loaded it, and a host's `no-cache` would make it a second download): the hash
 *  decides, and a stale or damaged copy is fetched once more past it. Keeps it; resolves like
 *  refetch. */
async function fetchToKeep(cache, path) {
  const first = await fetch(keyFor(path), { cache: 'force-cache' }).catch(() => null);
  const body = await verifiedBody(first, path);
  if (!body) return refetch(cache, path);
  await keep(cache, path, body, first.headers);
  return { body, headers: first.headers };
}

/** Whether this device has a hardware WebGPU adapter, the one kind model-host.js uses unasked (a
 *  software one, SwiftShader, runs the models ~100x slower than WASM). Chromium offers WebGPU
 *  to service workers since version 124; elsewhere this says no and the files wait for use. */
async function hardwareGpu() {
  try {
    const adapter = await self.navigator.gpu?.requestAdapter();
    return Boolean(adapter) && !(adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter);
  } catch {
    return false;
  }
}

/** Fill this build's cache: an entry already there and right stays, a file an earlier build
 *  had with the same bytes is copied, and only the rest is fetched. */
async function install() {
  const cache = await caches.open(CACHE);
  const earlier = await earlierCaches();
  const gpu = LAZY.size ? await hardwareGpu() : false;
  await Promise.all(Object.keys(FILES).map(async (path) => {
    // This build's cache may exist already (sw.js changed, the files did not), or hold what
    // a first visit's page put there from its HTTP cache (ui/service-worker.js, seedCache).
    // The page's entries are network responses: stored again as this worker stores a file,
    // with the security headers and no URL of their own (a cached index.html answering
    // '/?shared=1' must not claim to be '/').
    const own = await cache.match(keyFor(path));
    const ownBody = own ? await verifiedBody(own.clone(), path) : null;
    if (ownBody) {
      if (!isolated(own) || own.url !== '') await keep(cache, path, ownBody, own.headers);
      return;
    }
    const seen = { any: false };
    const kept = await reusable(earlier, path, seen);
    if (kept) {
      await keep(cache, path, kept.body, kept.headers);
      return;
    }
    if (LAZY.has(path)) {
      // Kept now on a device with a GPU, or one that used an earlier build's copy (it has
      // WebGPU: offline-ready with the new one too); elsewhere fetched when first used. A
      // failure only leaves it for then.
      if (gpu || seen.any) await fetchToKeep(cache, path);
      return;
    }
    const fresh = await fetchToKeep(cache, path);
    if (fresh.code) throw new Error(fresh.message); // keep the previous worker
  }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(install().then(() => self.skipWaiting()));
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

/** Where the manifest's share_target posts a photo shared to Offcut (Android's share sheet). */
const SHARE_PATH = 'share-target';
/** The shared photo waits here for the page the share opens: in this device's cache only. */
const SHARED_CACHE = 'offcut.shared'; // not 'offcut-': build caches are named so, and replaced
const SHARED_KEY = 'shared-photo';

/** A photo shared to Offcut: kept in this device's cache, then the app opens with it. The
 *  POST never reaches a server (nothing is uploaded): this worker answers it. */
async function receiveShare(request) {
  let file = null;
  try {
    file = (await request.formData()).get('photo');
  } catch {
    // not a form: open the app without a photo
  }
  const target = new URL('./', root());
  if (file && typeof file !== 'string') {
    const cache = await caches.open(SHARED_CACHE);
    await cache.put(new URL(SHARED_KEY, root()).href, new Response(file, {
      headers: { 'Content-Type': file.type || 'application/octet-stream',
                 'Offcut-Name': encodeURIComponent(file.name || 'shared') },
    }));
    target.searchParams.set('shared', '1');
  }
  return Response.redirect(target.href, 303);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === 'POST' && url.pathname === new URL(SHARE_PATH, root()).pathname) {
    event.respondWith(receiveShare(request));
    return;
  }
  if (request.method !== 'GET') return;
  event.respondWith(respond(request));
});
