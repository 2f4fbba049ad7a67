// Model files: downloaded in parts with byte progress, verified by SHA-256, cached in
// IndexedDB. A cached copy is re-verified on every load; a bad or malformed one is discarded
// and fetched again (offline, that is the 'cache-corrupt-offline' error). Failing to cache (full disk, private mode) is a warning, never an error.

const DB_NAME = 'offcut';
const STORE = 'models';

export class StoreError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase() {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'id' });
  return request(open);
}

async function withStore(db, mode, action) {
  const tx = db.transaction(STORE, mode);
  const result = await request(action(tx.objectStore(STORE)));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException('aborted', 'AbortError'));
  });
  return result;
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function download(entry, progress, signal) {
  const total = entry.parts.reduce((sum, part) => sum + part.bytes, 0);
  const bytes = new Uint8Array(total);
  let done = 0;
  progress('model-download', 0, total);
  for (const part of entry.parts) {
    const url = new URL(part.url, self.location.href).href;
    let response;
    try {
      // Not through the HTTP cache: the bytes are kept in IndexedDB, and 46 MB passing through
      // it would push out the runtime a first visit's service worker takes from there.
      response = await fetch(url, { signal, cache: 'no-store' });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new StoreError('download-failed', `${url}: ${error.message}`, { url });
    }
    if (!response.ok) {
      throw new StoreError('download-failed', `${url}: HTTP ${response.status}`,
        { url, status: response.status });
    }
    const reader = response.body.getReader();
    for (;;) {
      const { done: finished, value } = await reader.read();
      if (finished) break;
      if (done + value.length > total) {
        throw new StoreError('hash-mismatch', `${entry.id}: more bytes than the index says`);
      }
      bytes.set(value, done);
      done += value.length;
      progress('model-download', done, total);
    }
  }
  if (done !== total) throw new StoreError('hash-mismatch', `${entry.id}: got ${done} of ${total} bytes`);
  return bytes;
}

/** Whether a stored record is a whole, correct copy of `entry`. Anything else (a record from
 *  an older version, `bytes: null`, a short buffer) is damaged, never an error. */
async function matches(record, entry) {
  if (typeof record !== 'object' || record.sha256 !== entry.sha256) return false;
  if (!(record.bytes instanceof ArrayBuffer)) return false;
  const total = entry.parts.reduce((sum, part) => sum + part.bytes, 0);
  if (record.bytes.byteLength !== total) return false;
  try {
    return (await sha256Hex(record.bytes)) === entry.sha256;
  } catch {
    return false;
  }
}

/**
 * The verified bytes of a model. Resolves {bytes: Uint8Array, cached: boolean}.
 * `warn(code, message)` reports cache problems; they never stop the model from loading.
 * `beforeDownload()`, when given, is awaited only when the model must be downloaded (not
 * when a verified copy is cached): the caller's way to let more urgent bytes go first.
 * `entry.storeKey` (default: its id) names its IndexedDB record; `entry.staleKeys` are
 * records deleted once it is stored.
 */
export async function loadModel(entry, { progress, signal, warn, beforeDownload = null }) {
  // One record per file: a model's CPU and WebGPU files are kept side by side.
  const key = entry.storeKey ?? entry.id;
  let db = null;
  try {
    db = await openDatabase();
  } catch (error) {
    warn('storage-unavailable', `IndexedDB: ${error && error.message}`);
  }
  let damaged = false;
  if (db) {
    const cached = await withStore(db, 'readonly', (s) => s.get(key)).catch(() => null);
    if (cached) {
      progress('model-verify', 0, 1);
      const ok = await matches(cached, entry);
      progress('model-verify', 1, 1);
      if (ok) return { bytes: new Uint8Array(cached.bytes), cached: true };
      damaged = true;
      await withStore(db, 'readwrite', (s) => s.delete(key)).catch(() => {});
    }
  }
  let bytes;
  try {
    if (beforeDownload) {
      progress('model-queued', 0, 1);
      await beforeDownload();
      if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
    }
    bytes = await download(entry, progress, signal);
    // Said once the fresh copy is here: offline, the error alone tells what happened (a
    // notice that a copy "is being downloaded" beside it contradicted it, and outlived it).
    if (damaged) warn('cache-corrupt', `cached ${entry.id} failed verification; downloaded it again`);
  } catch (error) {
    // Offline with a damaged copy: say that, not "the first download needs a connection".
    if (damaged && error instanceof StoreError && error.code === 'download-failed') {
      throw new StoreError('cache-corrupt-offline', `cached ${entry.id} was damaged; ${error.message}`,
        { ...error.details, model: entry.id });
    }
    throw error;
  }
  progress('model-verify', 0, 1);
  const actual = await sha256Hex(bytes);
  progress('model-verify', 1, 1);
  if (actual !== entry.sha256) {
    throw new StoreError('hash-mismatch', `${entry.id}: sha256 ${actual} != ${entry.sha256}`);
  }
  if (db) {
    try {
      await withStore(db, 'readwrite', (s) => {
        for (const stale of entry.staleKeys || []) s.delete(stale);
        return s.put({ id: key, sha256: entry.sha256, bytes: bytes.buffer, savedAt: Date.now() });
      });
    } catch (error) {
      const full = error && (error.name === 'QuotaExceededError' || /quota/i.test(error.message));
      warn(full ? 'storage-full' : 'storage-unavailable', `could not cache ${entry.id}: ${error && error.message}`);
    }
  }
  return { bytes, cached: false };
}
