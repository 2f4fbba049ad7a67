// The worker owns Pyodide (our Python pipeline) and onnxruntime-web (the model).
// Protocol (see bridge.js): in {id, type, payload}; out {id, type: 'progress'|'result'|'error'}
// and {type: 'warning', code, message}. One request runs at a time; 'cancel' is handled at once
// and takes effect at the next stage boundary (a running model or Python step cannot be
// interrupted: for a long one the bridge replaces the whole worker instead).

import { loadModel, sha256Hex, StoreError } from './model-store.js';

const here = (path) => new URL(path, import.meta.url).href;

const state = {
  pyodide: null,
  py: null, // the offcut.web module
  host: null, // onnxruntime-web's worker (ort-host.js), see ortHost
  models: null, // models/index.json entries
  model: null, // current entry
  target: null, // the entry being loaded for the page, or loaded (then === model)
  loading: null, // promise of the latest model load (init's or set-model's)
  python: null, // promise: Pyodide booted and offcut imported
  prelude: null, // promise: onnxruntime-web imported and models/index.json read
  quick: null, // promise of {entry, session} for first looks (offcut.quick), or of null
  lastRun: new Map(), // model id -> seconds its last run took here
  modelBytes: null, // kept for a WASM fallback session when WebGPU fails
  session: null,
  backend: null, // 'webgpu' | 'wasm'
  preferred: 'auto', // 'auto' | 'webgpu' | 'wasm'
  gpuUnproven: false, // WebGPU was picked automatically and has not finished a run yet
  webgpuDeadline: 0, // seconds for that first run; 0: from the model's WASM cost
  threads: 1,
  booting: null,
};
const cancelled = new Set();
const controllers = new Map(); // request id -> AbortController for downloads
const cancelWaiters = new Map(); // request id -> reject: a request waiting for a model load
const loadListeners = new Set(); // progress callbacks of requests waiting for a model load
// Photos that want a first look: request id -> {promise, resolve}. A big model's session
// creation holds onnxruntime's worker (ort-host.js) for seconds, so it waits for them.
const lookGates = new Map();
let queue = Promise.resolve();

class WorkerError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

const post = (message, transfer = []) => self.postMessage(message, transfer);
const warn = (code, message, details = {}) => post({ type: 'warning', code, message, details });
const seconds = (t0) => (performance.now() - t0) / 1000;

function checkCancelled(id) {
  if (cancelled.has(id)) throw new WorkerError('cancelled', 'cancelled');
}

/** Call an offcut.web function; its result is {ok, ...} or {ok: false, code, message}. */
function callPython(name, ...args) {
  const result = state.py[name](...args);
  if (!result.ok) throw new WorkerError(result.code, result.message, result.details || {});
  return result;
}

/** A file of the site. The service worker answers a file it has and cannot repair with a 504
 *  whose Offcut-Error header names the problem (see sw.js). */
async function fetchFile(path) {
  const response = await fetch(here(path));
  if (!response.ok) {
    const code = response.headers.get('Offcut-Error');
    const why = code ? (await response.json().catch(() => ({}))).message : '';
    throw new WorkerError(code || 'download-failed', why || `${path}: HTTP ${response.status}`,
      { url: response.url, status: response.status, path });
  }
  return response;
}

/** After a failed start: the cached file the service worker could not serve, if any. Pyodide
 *  and onnxruntime fetch their own files, so their errors do not say which one was bad. */
async function cacheProblem() {
  try {
    const response = await fetch(here('./sw-check.json'), { cache: 'no-store' });
    if (!response.ok) return null; // no service worker: the server has no such file
    const { problems } = await response.json();
    return problems && problems.length ? problems[0] : null;
  } catch {
    return null;
  }
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

async function bootPython(progress) {
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
  const pyodide = await loadPyodide({ indexURL: here('./pyodide/'), stdLibURL: here('./py/stdlib.zip') });
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
  state.py = pyodide.pyimport('offcut.web');
  state.pyodide = pyodide;
  progress('packages', 1, 1);
  return { pyodideBoot: bootSeconds, pythonReady: seconds(t0) };
}

async function loadOrt() {
  // Threads need cross-origin isolation (COOP/COEP); without it ORT would silently use one.
  state.threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  state.host = ortHost();
  await state.host.call('init', { wasmPaths: here('./ort/'), threads: state.threads });
}

/** onnxruntime-web's own worker (ort-host.js): `call(type, fields, transfer)` resolves with its
 *  result or rejects with its error. It ends with this worker (a cancel replaces both). */
function ortHost() {
  const worker = new Worker(here('./ort-host.js'), { type: 'module' });
  const pending = new Map();
  let next = 0;
  const failAll = (message) => {
    for (const { reject } of pending.values()) reject(new Error(message));
    pending.clear();
  };
  worker.onmessage = ({ data }) => {
    const waiter = pending.get(data.id);
    pending.delete(data.id);
    if (!waiter) return;
    if ('error' in data) waiter.reject(new Error(data.error));
    else waiter.resolve(data.result);
  };
  worker.onerror = (event) => failAll(`onnxruntime's worker failed: ${event.message || 'no message'}`);
  return {
    call(type, fields = {}, transfer = []) {
      next += 1;
      const id = next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, type, ...fields }, transfer);
      });
    },
  };
}

let sessionKeys = 0;

/** A session in ort-host.js. For WebGPU `bytes` are copied there (kept here for a WASM
 *  fallback); for WASM they are moved (detached here): each copy of IS-Net is 84 MiB that
 *  stayed in the heap, waiting for a collection, into the first photo's run. */
async function remoteSession(bytes, provider) {
  sessionKeys += 1;
  const key = sessionKeys;
  const { outputNames } = await state.host.call('create', { key, bytes, provider },
    provider === 'wasm' ? [bytes.buffer] : []);
  return {
    outputNames,
    /** float32 `data` (transferred) in, the named output's float32 data out. */
    run: (inputName, outputName, data, dims) => state.host.call(
      'run', { key, inputName, outputName, data, dims }, [data.buffer]),
    release: () => state.host.call('release', { key }),
  };
}

/** The WebGPU adapter, or null. A software one (SwiftShader: `isFallbackAdapter`, on the
 *  adapter in older browsers, on adapter.info in newer ones) runs our models ~100x slower
 *  than WASM, so it is only used when the user forces WebGPU. */
async function webgpuAdapter() {
  if (!('gpu' in navigator)) return null;
  try {
    return (await navigator.gpu.requestAdapter()) || null;
  } catch {
    return null;
  }
}

const isFallbackAdapter = (adapter) => Boolean(adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter);

async function createSession(bytes) {
  const { ort } = state;
  const adapter = state.preferred === 'wasm' ? null : await webgpuAdapter();
  const wantGpu = Boolean(adapter) && (state.preferred === 'webgpu' || !isFallbackAdapter(adapter));
  state.gpuUnproven = false;
  if (wantGpu) {
    try {
      state.session = await remoteSession(bytes, 'webgpu');
      state.backend = 'webgpu';
      // Chosen automatically: the first run must show it is not slower than WASM would be.
      state.gpuUnproven = state.preferred === 'auto';
      return;
    } catch (error) {
      warn('webgpu-failed', `WebGPU session failed, using WASM: ${error.message}`);
    }
  } else if (state.preferred === 'webgpu') {
    warn('webgpu-failed', 'no WebGPU adapter; using WASM');
  }
  state.session = await remoteSession(bytes, 'wasm');
  state.backend = 'wasm';
}


// Single-thread WASM seconds for one run of each model here (stack-facts.md: u2netp ~2 s,
// IS-Net medium 20-30 s); other models by size, at IS-Net's rate.
const WASM_SECONDS = { u2netp: 3, 'isnet-medium': 30 };
const WASM_SECONDS_PER_MB = 0.35;

/** How long the first automatic WebGPU run may take before WASM is the better choice:
 *  what WASM would need, half again for shader compilation, plus a few seconds. */
function firstRunDeadline(model) {
  if (state.webgpuDeadline > 0) return state.webgpuDeadline;
  const wasm = WASM_SECONDS[model.id] ?? (WASM_SECONDS_PER_MB * (model.bytes || 0)) / 1e6;
  return 5 + 1.5 * wasm;
}

/** The model's first WebGPU run, or a 'webgpu-slow' error at its deadline. The run cannot be
 *  stopped and this worker's ORT must not start another meanwhile: the bridge replaces the
 *  worker with a WASM one and the caller runs the image again. */
async function firstGpuRun(input, shape) {
  const limit = firstRunDeadline(state.model);
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new WorkerError('webgpu-slow',
      `the first WebGPU run took over ${limit.toFixed(1)} s`, { seconds: limit })), limit * 1000);
  });
  try {
    const output = await Promise.race([runModel(input, shape), late]);
    state.gpuUnproven = false;
    return output;
  } finally {
    clearTimeout(timer);
  }
}

async function setModel(id, modelId, progress) {
  const entry = state.models.find((m) => m.id === modelId);
  if (!entry) throw new WorkerError('invalid-option', `unknown model ${modelId}`);
  if (state.model && state.model.id === modelId && state.session) {
    state.target = state.model;
    return { modelId, backend: state.backend, threads: state.threads, cached: true, timings: {} };
  }
  state.target = entry;
  loadQuick(entry);
  // Requests waiting for this model (see waitForModel) see its download too.
  const report = (stage, done, total) => {
    progress(stage, done, total);
    for (const listener of loadListeners) listener(stage, done, total);
  };
  const t0 = performance.now();
  const controller = new AbortController();
  controllers.set(id, controller);
  let loaded;
  try {
    loaded = await loadModel(entry, { progress: report, signal: controller.signal, warn });
    checkCancelled(id);
  } catch (error) {
    state.target = state.session ? state.model : null; // the page keeps the model it had
    throw error;
  } finally {
    controllers.delete(id);
  }
  const tLoaded = seconds(t0);
  if (state.quick) {
    // The small session first, then any photo's first look: creating the big one would
    // keep both waiting (ort-host.js runs one onnxruntime call at a time).
    await state.quick;
    const looks = Promise.all([...lookGates.values()].map((gate) => gate.promise));
    try {
      await Promise.race([looks, untilCancelled(id)]);
    } catch (error) {
      state.target = state.session ? state.model : null;
      throw error;
    } finally {
      cancelWaiters.delete(id);
    }
  }
  report('session', 0, 1);
  if (state.session) await state.session.release().catch(() => {});
  state.session = null;
  state.model = null;
  await createSession(loaded.bytes);
  state.model = entry;
  // Kept only where a WASM session may still be needed (IS-Net: 88 MB of JS heap otherwise).
  state.modelBytes = state.backend === 'webgpu' ? loaded.bytes : null;
  report('session', 1, 1);
  return {
    modelId,
    backend: state.backend,
    threads: state.threads,
    cached: loaded.cached,
    timings: { modelLoad: tLoaded, session: seconds(t0) - tLoaded },
  };
}

/** The smallest model by download size: it gives first looks, and spare workers boot with it
 *  (bridge.js, from start's `smallestModelId`). */
const smallestModel = () => state.models.reduce((a, b) => ((b.bytes || 0) < (a.bytes || 0) ? b : a));

/** The smallest model (by download size) gives first looks while a bigger one is chosen: it
 *  is loaded beside it, on WASM (it needs no GPU: ~0.5 s for a look). */
function loadQuick(chosen) {
  if (state.quick || !state.models?.length) return;
  const smallest = smallestModel();
  if (smallest.id === chosen.id) return;
  state.quick = (async () => {
    const loaded = await loadModel(smallest, { progress: () => {}, signal: new AbortController().signal, warn });
    return { entry: smallest, session: await remoteSession(loaded.bytes, 'wasm') };
  })().catch((error) => {
    // Only the first look is lost (the chosen model still works): not worth a notice.
    console.warn(`offcut: no first looks: ${error.message}`);
    return null;
  });
}

/** A promise that rejects when request `id` is cancelled (only while it waits: see
 *  waitForModel). */
function untilCancelled(id) {
  return new Promise((_, reject) => {
    cancelWaiters.set(id, () => reject(new WorkerError('cancelled', 'cancelled')));
  });
}

/** Wait for the page's model to finish loading; its download progress is this request's.
 *  The worker is idle meanwhile, so a cancel is handled here (the bridge does not replace
 *  the worker for it) and the download goes on for the next photo. */
async function waitForModel(id, progress) {
  progress('model-wait', 0, 1);
  loadListeners.add(progress);
  try {
    await Promise.race([state.loading, untilCancelled(id)]);
  } finally {
    loadListeners.delete(progress);
    cancelWaiters.delete(id);
  }
  checkCancelled(id);
}

// A first look is only worth its cost (one small-model run) before a model this slow.
const QUICK_WORTH_SECONDS = 2;

/** The small model's look at the photo Python holds, posted as a 'partial' message before
 *  the chosen model runs (or while it still loads). Skipped when the small model is not
 *  loaded yet and the chosen one is: waiting for it would only delay the real cutout.
 *  Resolves true when a look was posted. */
async function quickLook(id, target, view, progress) {
  // Where the chosen model itself is quick (a real GPU), a first look would only delay it.
  if (!state.quick || state.lastRun.get(target.id) < QUICK_WORTH_SECONDS) return false;
  const ready = state.session && state.model === target;
  // Chosen model ready: the small one only if it already is (a settled promise wins a race
  // against a plain value); else wait for it, it is small.
  const quick = ready ? await Promise.race([state.quick, null])
    : await Promise.race([state.quick, untilCancelled(id)]).finally(() => cancelWaiters.delete(id));
  if (!quick || quick.entry.id === target.id) return false;
  const t0 = performance.now();
  progress('quick', 0, 1);
  const side = view.maxSide || 1024;
  const record = JSON.stringify(quick.entry);
  const prepared = callPython('quick_start', record, side);
  const input = prepared.input.slice(); // own copy: the Python heap view may move
  const tModel = performance.now();
  const output = await runSession(quick.session, quick.entry, input, prepared.shape);
  checkCancelled(id);
  const tCompose = performance.now();
  const photo = view.backgroundPhoto ? new Uint8Array(view.backgroundPhoto) : null;
  const done = callPython('quick_preview', output, record, JSON.stringify(view.options || {}), side, photo);
  const tEncode = performance.now();
  const shown = await encodedPreview(done, tCompose);
  const stages = {
    prepare: (tModel - t0) / 1000,
    model: (tCompose - tModel) / 1000,
    compose: (tEncode - tCompose) / 1000,
    encode: seconds(tEncode),
  };
  checkCancelled(id);
  post({
    id,
    type: 'partial',
    result: {
      modelId: quick.entry.id,
      finalModelId: target.id,
      preview: shown,
      seconds: seconds(t0),
      stages,
    },
  });
  progress('quick', 1, 1);
  return true;
}

async function init(id, payload, progress) {
  try {
    return await start(id, payload, progress);
  } catch (error) {
    // A damaged cached file shows up as whatever Pyodide or onnxruntime made of it.
    if (error instanceof WorkerError && SPECIFIC_FILE_ERRORS.has(error.code)) throw error;
    if (error instanceof StoreError || error?.name === 'AbortError') throw error;
    const problem = await cacheProblem();
    if (problem) throw new WorkerError(problem.code, problem.message, { path: problem.path });
    throw error;
  }
}

const SPECIFIC_FILE_ERRORS = new Set(['cache-corrupt-offline', 'asset-corrupt']);

async function start(id, payload, progress) {
  const t0 = performance.now();
  state.preferred = payload.backend || 'auto';
  state.webgpuDeadline = Number(payload.webgpuDeadline) || 0;
  const indexPromise = fetchFile('./models/index.json').then((r) => r.json());
  // Python boots while the model downloads: they do not depend on each other. A photo sent
  // meanwhile waits for Python only (see process), not for the model.
  state.python = bootPython(progress);
  state.python.catch(() => {}); // awaited below; a failure before then must not go unhandled
  state.prelude = (async () => {
    await loadOrt();
    state.models = await indexPromise;
  })();
  state.loading = (async () => {
    await state.prelude; // awaited here first, so the target is set before process sees it
    return setModel(id, payload.modelId || state.models[0].id, progress);
  })();
  state.loading.catch(() => {});
  const model = await state.loading;
  const pythonTimings = await state.python;
  return {
    ...model,
    // `downloadBytes`: what the served file's parts weigh (Best's int8 file is half its
    // source's `bytes`); the page shows it where the user chooses a model.
    models: state.models.map(({ parts, ...record }) => ({
      ...record, downloadBytes: parts.reduce((sum, part) => sum + part.bytes, 0),
    })),
    smallestModelId: smallestModel().id,
    crossOriginIsolated: self.crossOriginIsolated,
    timings: { ...model.timings, ...pythonTimings, ready: seconds(t0) },
  };
}

/** Run the model once per view (shape[0]: 2 when the record asks for a mirrored second
 * view; the models' batch size is fixed at 1); the outputs are concatenated in order. */
function runModel(input, shape) {
  return runSession(state.session, state.model, input, shape);
}

async function runSession(session, model, input, shape) {
  const [views, ...one] = shape;
  const step = one.reduce((a, b) => a * b, 1);
  const name = session.outputNames[model.output.index];
  const parts = [];
  for (let view = 0; view < views; view += 1) {
    // Its own buffer, transferred to ort-host.js (the caller's input may be needed again).
    const slice = input.slice(view * step, (view + 1) * step);
    parts.push(await session.run(model.input.name, name, slice, [1, ...one]));
  }
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  parts.reduce((offset, part) => (data.set(part, offset), offset + part.length), 0);
  return data;
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
async function startImage(bytes, model, progress) {
  const record = JSON.stringify(model);
  try {
    return callPython('start', bytes, record, progress);
  } catch (error) {
    if (!(error instanceof WorkerError) || !BROWSER_DECODABLE.has(error.code)) throw error;
    const decoded = await browserDecode(bytes);
    if (!decoded) throw error; // neither can: the message names the format when known
    const format = error.details?.format || 'unknown';
    return callPython('start_pixels', decoded.pixels, decoded.width, decoded.height, format, record, progress);
  }
}

async function process(id, payload, progress) {
  if (!state.python) throw new WorkerError('internal', 'the engine was not started');
  await state.python; // the model may still be loading: a first look does not need it
  if (!state.target) await state.prelude.catch(() => {});
  if (!state.target) {
    openLookGate(id); // the load below must not wait for this photo's first look
    await waitForModel(id, progress);
  }
  const target = state.target;
  if (!target) throw new WorkerError('internal', 'no model is loaded');
  const started = await startImage(new Uint8Array(payload.bytes), target, progress);
  const input = started.input.slice(); // own copy: the Python heap view may move
  checkCancelled(id);
  const t0Quick = performance.now();
  let looked = false;
  if (payload.preview && payload.quick) {
    try {
      looked = await quickLook(id, target, payload.preview, progress);
    } catch (error) {
      if (error instanceof WorkerError && error.code === 'cancelled') throw error;
      console.warn(`offcut: first look failed: ${error.message}`); // the real cutout still comes
    }
  }
  const quickSeconds = seconds(t0Quick);
  openLookGate(id);
  if (!(state.session && state.model === target)) await waitForModel(id, progress);
  // The page switched models while this photo waited: run the one it has now.
  if (state.model !== target) throw new WorkerError('model-changed', 'the model changed while waiting');
  checkCancelled(id);
  progress('model', 0, 1);
  const t0 = performance.now();
  let output;
  try {
    output = state.gpuUnproven ? await firstGpuRun(input, started.shape) : await runModel(input, started.shape);
  } catch (error) {
    if (error instanceof WorkerError) throw error; // too slow: see firstGpuRun
    if (state.backend !== 'webgpu') throw new WorkerError('model-failed', error.message);
    // Any WebGPU failure: rebuild on WASM and run again; the image is still processed.
    warn('webgpu-failed', `WebGPU run failed, using WASM: ${error.message}`);
    state.preferred = 'wasm';
    await createSession(state.modelBytes);
    state.modelBytes = null; // moved to the WASM session
    output = await runModel(input, started.shape);
  }
  const modelSeconds = seconds(t0);
  state.lastRun.set(target.id, modelSeconds);
  progress('model', 1, 1);
  checkCancelled(id);
  const done = callPython('complete', output, payload.refineEdges !== false, progress);
  if (started.info.frames > 1) {
    warn('animated-first-frame', `animated image: frame 1 of ${started.info.frames} used`,
      { frames: started.info.frames });
  }
  const timings = { ...done.timings, model: modelSeconds };
  if (looked) timings.quick = quickSeconds;
  let shown = null;
  if (payload.preview) {
    // The first view comes with the result: one round trip, rendered at screen size.
    progress('preview', 0, 1);
    shown = await preview(payload.preview);
    timings.preview = shown.seconds;
  }
  return {
    result: {
      width: done.width,
      height: done.height,
      info: started.info,
      preview: shown,
      backend: state.backend,
      modelId: state.model.id,
      timings,
    },
  };
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
async function preview(payload) {
  const t0 = performance.now();
  const photo = payload.backgroundPhoto ? new Uint8Array(payload.backgroundPhoto) : null;
  const done = callPython('preview', JSON.stringify(payload.options || {}), payload.maxSide || 1024,
    photo, payload.knownBefore || '', payload.withBefore !== false);
  return encodedPreview(done, t0);
}

/** Only the original through the view's crop and canvas (see offcut.web.before). payload:
 *  {options, maxSide}. Resolves {before: Blob, beforeKey, width, height, seconds}. */
async function before(payload) {
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
async function encodedPreview(done, t0) {
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

function render(payload, progress) {
  const { backgroundPhoto, ...options } = payload;
  const photo = backgroundPhoto ? new Uint8Array(backgroundPhoto) : null;
  const done = callPython('render', JSON.stringify(options), photo, progress);
  const bytes = done.bytes.slice();
  return {
    result: { bytes: bytes.buffer, mime: done.mime, format: done.format },
    transfer: [bytes.buffer],
  };
}

function describe(error) {
  if (error instanceof WorkerError || error instanceof StoreError) {
    return { code: error.code, message: error.message, details: error.details };
  }
  if (error && error.name === 'AbortError') return { code: 'cancelled', message: 'cancelled', details: {} };
  const text = String((error && error.message) || error);
  const code = /memory|allocation/i.test(text) ? 'out-of-memory' : 'internal';
  return { code, message: text, details: {} };
}

async function handle(id, type, payload) {
  const progress = (stage, done, total) => post({ id, type: 'progress', stage, done, total });
  // Only a photo being worked on holds session creation back; one queued behind another
  // request does not (that request may be the model load itself).
  if (type === 'process' && payload.quick && payload.preview) {
    let resolve;
    const promise = new Promise((done) => { resolve = done; });
    lookGates.set(id, { promise, resolve });
  }
  try {
    checkCancelled(id);
    let outcome;
    if (type === 'init') {
      state.booting = state.booting || init(id, payload, progress);
      outcome = { result: await state.booting };
    } else {
      // A photo may start while the model loads (process waits for what it needs itself);
      // anything else waits for the engine.
      if (state.booting && type !== 'process') await state.booting.catch(() => {});
      if (type === 'set-model') {
        state.loading = setModel(id, payload.modelId, progress);
        state.loading.catch(() => {});
        outcome = { result: await state.loading };
      } else if (type === 'process') outcome = await process(id, payload, progress);
      else if (type === 'render') outcome = render(payload, progress);
      else if (type === 'preview') outcome = { result: await preview(payload) };
      else if (type === 'before') outcome = { result: await before(payload) };
      else throw new WorkerError('internal', `unknown request ${type}`);
    }
    post({ id, type: 'result', result: outcome.result }, outcome.transfer || []);
  } catch (error) {
    if (type === 'init') state.booting = null; // let the UI retry
    post({ id, type: 'error', ...describe(error) });
  } finally {
    cancelled.delete(id);
    openLookGate(id);
  }
}

/** Photo `id` had its first look (or will have none): session creation may go on. */
function openLookGate(id) {
  lookGates.get(id)?.resolve();
  lookGates.delete(id);
}

self.onmessage = ({ data }) => {
  const { id, type, payload } = data;
  if (type === 'cancel') {
    cancelled.add(payload.target);
    controllers.get(payload.target)?.abort();
    cancelWaiters.get(payload.target)?.();
    return;
  }
  // init runs beside the queue: a photo sent while the model downloads can start at once.
  if (type === 'init') handle(id, type, payload || {});
  else queue = queue.then(() => handle(id, type, payload || {}));
};
