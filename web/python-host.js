// The Python host: Pyodide with our package, in worker.js's thread. It boots Python (the
// runtime, numpy's and Pillow's wheels, offcut and the shipped bytecode) and makes every call
// into offcut.web: decoding a photo (the browser's decoder when Pillow cannot read it),
// finishing a cutout, and the views and files rendered from it.

import { sha256Hex } from './model-store.js';
import { seconds, WorkerError } from './worker-requests.js';

const here = (path) => new URL(path, import.meta.url).href;

let py = null; // the offcut.web module, once booted

/** Call an offcut.web function; its result is {ok, ...} or {ok: false, code, message}. */
export function callPython(name, ...args) {
  const result = py[name](...args);
  if (!result.ok) throw new WorkerError(result.code, result.message, result.details || {});
  return result;
}

/** A file of the site. The service worker answers a file it has and cannot repair with a 504
 *  whose Offcut-Error header names the problem (see sw.js). */
export async function fetchFile(path) {
  const response = await fetch(here(path));
  if (!response.ok) {
    const code = response.headers.get('Offcut-Error');
    const why = code ? (await response.json().catch(() => ({}))).message : '';
    throw new WorkerError(code || 'download-failed', why || `${path}: HTTP ${response.status}`,
      { url: response.url, status: response.status, path });
  }
  return response;
}

/** Where py/offcut.zip is unpacked (build.py's OFFCUT_PY_DIR: its bytecode is made for it). */
const OFFCUT_PY_DIR = '/home/pyodide/offcut-py';

/** The packages of Pyodide's lock file that offcut imports. */
const PYTHON_PACKAGES = ['numpy', 'pillow'];

/** The wheels of PYTHON_PACKAGES, checked against the SHA-256 Pyodide's lock file gives:
 *  their bytes (ArrayBuffers). */
async function fetchWheels() {
  const lock = await (await fetchFile('./pyodide/pyodide-lock.json')).json();
  return Promise.all(PYTHON_PACKAGES.map(async (name) => {
    const { file_name: fileName, sha256 } = lock.packages[name];
    const path = `pyodide/${fileName}`;
    const bytes = await (await fetchFile(`./${path}`)).arrayBuffer();
    if (await sha256Hex(bytes) !== sha256) {
      throw new WorkerError('asset-corrupt', `${path}: sha256 is not the one pyodide-lock.json gives`, { path });
    }
    return bytes;
  }));
}

/** Boot Pyodide with numpy, Pillow and offcut. `controlled`: the page's service worker
 *  answers this worker's fetches (then its refusals are checked for; see below). */
export async function bootPython(progress, { controlled = false } = {}) {
  const t0 = performance.now();
  progress('runtime', 0, 1);
  const { loadPyodide } = await import('./pyodide/pyodide.mjs');
  // Needed right after the runtime: fetched (and checked) while it boots.
  const files = Promise.all([
    fetchWheels(),
    ...['./py/offcut.zip', './py/bytecode.zip'].map(async (path) => (await fetchFile(path)).arrayBuffer()),
  ]);
  files.catch(() => {}); // awaited below; a failure before then must not go unhandled
  // The standard library with its bytecode (build.py's build_bytecode): Pyodide never writes
  // .pyc files, so without it every start compiles what Python imports.
  // Pyodide fetches its runtime itself, and a damaged copy the service worker refuses
  // (offline: 504) made it wait forever. Asked here too, the same answer becomes the error
  // the page shows; the body is not read (the worker checks a file before it answers). Only
  // under a service worker: on a first visit it would be a second download.
  const never = new Promise(() => {});
  const runtimeFault = !controlled ? never : fetchFile('./pyodide/pyodide.asm.wasm')
    .then((response) => { response.body?.cancel(); return never; });
  const pyodide = await Promise.race([
    loadPyodide({ indexURL: here('./pyodide/'), stdLibURL: here('./py/stdlib.zip') }),
    runtimeFault,
  ]);
  const bootSeconds = seconds(t0);
  progress('packages', 0, 1);
  const [wheels, zip, bytecode] = await files;
  // Unpacked, not loadPackage()d: that loads every compiled module of a package up front (19
  // for numpy, 7.2 MB of WebAssembly), while an import loads just the ones it needs (random,
  // fft and the test modules are never used here). Python ready 1.57 s instead of 1.70 s.
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  for (const wheel of wheels) pyodide.unpackArchive(wheel, 'wheel', { extractDir: sitePackages });
  pyodide.unpackArchive(zip, 'zip', { extractDir: OFFCUT_PY_DIR });
  // __pycache__ files by absolute path, for numpy, Pillow and offcut.
  pyodide.unpackArchive(bytecode, 'zip', { extractDir: '/' });
  pyodide.runPython(`import sys; sys.path.insert(0, '${OFFCUT_PY_DIR}')`);
  py = pyodide.pyimport('offcut.web');
  progress('packages', 1, 1);
  return { pyodideBoot: bootSeconds, pythonReady: seconds(t0) };
}

// Formats Pyodide's Pillow cannot read (AVIF, HEIC in Safari, JPEG 2000) may still be ones
// the browser can: these errors from Python send the file to the browser's decoder.
const BROWSER_DECODABLE = new Set(['unsupported-format', 'corrupt-image']);
// As py/offcut/decode.py's MAX_PIXELS: checked before the pixels are read out.
const MAX_PIXELS = 50_000_000;

/** Decode with the browser (EXIF orientation applied); null when it cannot either. */
async function browserDecode(bytes) {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') return null;
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]), {
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
    });
  } catch {
    return null;
  }
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) {
      throw new WorkerError('image-too-large', `${width}x${height} is over the limit`,
        { width, height, limit: MAX_PIXELS });
    }
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    const { data } = context.getImageData(0, 0, width, height);
    return { pixels: new Uint8Array(data.buffer), width, height };
  } finally {
    bitmap.close();
  }
}

/** Python's decoder first; the browser's when Python cannot read the format. */
export async function startImage(bytes, model, progress, { shrink = false } = {}) {
  const record = JSON.stringify(model);
  try {
    return callPython('start', bytes, record, progress, shrink);
  } catch (error) {
    if (!(error instanceof WorkerError) || !BROWSER_DECODABLE.has(error.code)) throw error;
    const decoded = await browserDecode(bytes);
    if (!decoded) throw error; // neither can: the message names the format when known
    const format = error.details?.format || 'unknown';
    return callPython('start_pixels', decoded.pixels, decoded.width, decoded.height, format, record, progress);
  }
}

/** RGBA pixels (a view into Python's heap) -> a PNG Blob, encoded by the browser. */
async function pngBlob(pixels, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const image = new ImageData(new Uint8ClampedArray(pixels.slice().buffer), width, height);
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** The composition at screen resolution (see offcut.web.preview). payload: {options,
 *  maxSide, backgroundPhoto, knownBefore, withBefore (default true)}. Resolves {after: Blob,
 *  before: Blob|null, beforeKey, width, height, outWidth, outHeight, seconds}. */
export async function preview(payload) {
  const t0 = performance.now();
  const photo = payload.backgroundPhoto ? new Uint8Array(payload.backgroundPhoto) : null;
  const done = callPython('preview', JSON.stringify(payload.options || {}), payload.maxSide || 1024,
    photo, payload.knownBefore || '', payload.withBefore !== false);
  return encodedPreview(done, t0);
}

/** Only the original through the view's crop and canvas (see offcut.web.before). payload:
 *  {options, maxSide}. Resolves {before: Blob, beforeKey, width, height, seconds}. */
export async function before(payload) {
  const t0 = performance.now();
  const done = callPython('before', JSON.stringify(payload.options || {}), payload.maxSide || 1024);
  return {
    before: await pngBlob(done.before, done.width, done.height),
    beforeKey: done.before_key,
    width: done.width,
    height: done.height,
    seconds: seconds(t0),
  };
}

/** Python's preview pixels (offcut.web.preview / quick_preview) -> what the UI shows: PNG
 *  blobs encoded by the browser, sizes, and the seconds since `t0`. */
export async function encodedPreview(done, t0) {
  const [after, before] = await Promise.all([
    pngBlob(done.after, done.width, done.height),
    done.before ? pngBlob(done.before, done.width, done.height) : null,
  ]);
  return {
    after,
    before,
    beforeKey: done.before_key,
    width: done.width,
    height: done.height,
    outWidth: done.out_width,
    outHeight: done.out_height,
    seconds: seconds(t0),
  };
}

export function render(payload, progress) {
  const { backgroundPhoto, ...options } = payload;
  const photo = backgroundPhoto ? new Uint8Array(backgroundPhoto) : null;
  const done = callPython('render', JSON.stringify(options), photo, progress);
  const bytes = done.bytes.slice();
  return {
    result: { bytes: bytes.buffer, mime: done.mime, format: done.format },
    transfer: [bytes.buffer],
  };
}
