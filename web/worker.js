// The worker owns Pyodide (our Python pipeline) and onnxruntime-web (the model).
// Protocol (see bridge.js): in {id, type, payload}; out {id, type: 'progress'|'result'|'error'}
// and {type: 'warning', code, message}. One request runs at a time; 'cancel' is handled at once
// and takes effect at the next stage boundary (a running model or Python step cannot be
// interrupted: for a long one the bridge replaces the whole worker instead).

import { loadModel, StoreError } from './model-store.js';

const here = (path) => new URL(path, import.meta.url).href;

const state = {
  pyodide: null,
  py: null, // the offcut.web module
  ort: null,
  models: null, // models/index.json entries
  model: null, // current entry
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

async function bootPython(progress) {
  const t0 = performance.now();
  progress('runtime', 0, 1);
  const { loadPyodide } = await import('./pyodide/pyodide.mjs');
  const pyodide = await loadPyodide({ indexURL: here('./pyodide/') });
  const bootSeconds = seconds(t0);
  progress('packages', 0, 1);
  await pyodide.loadPackage(['numpy', 'pillow'], { messageCallback: () => {} });
  const zip = await (await fetchFile('./py/offcut.zip')).arrayBuffer();
  pyodide.unpackArchive(zip, 'zip', { extractDir: '/home/pyodide/offcut-py' });
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/offcut-py')");
  state.py = pyodide.pyimport('offcut.web');
  state.pyodide = pyodide;
  progress('packages', 1, 1);
  return { pyodideBoot: bootSeconds, pythonReady: seconds(t0) };
}

async function loadOrt() {
  const ort = await import('./ort/ort.min.mjs');
  ort.env.wasm.wasmPaths = here('./ort/');
  // Threads need cross-origin isolation (COOP/COEP); without it ORT would silently use one.
  state.threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.numThreads = state.threads;
  ort.env.logLevel = 'error';
  state.ort = ort;
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
      state.session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
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
  state.session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
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
    return { modelId, backend: state.backend, threads: state.threads, cached: true, timings: {} };
  }
  const t0 = performance.now();
  const controller = new AbortController();
  controllers.set(id, controller);
  let loaded;
  try {
    loaded = await loadModel(entry, { progress, signal: controller.signal, warn });
  } finally {
    controllers.delete(id);
  }
  checkCancelled(id);
  const tLoaded = seconds(t0);
  progress('session', 0, 1);
  if (state.session) await state.session.release().catch(() => {});
  state.session = null;
  await createSession(loaded.bytes);
  state.model = entry;
  state.modelBytes = loaded.bytes;
  progress('session', 1, 1);
  return {
    modelId,
    backend: state.backend,
    threads: state.threads,
    cached: loaded.cached,
    timings: { modelLoad: tLoaded, session: seconds(t0) - tLoaded },
  };
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
  // Python boots while the model downloads: they do not depend on each other.
  const python = bootPython(progress);
  python.catch(() => {}); // awaited below; a failure before then must not go unhandled
  await loadOrt();
  state.models = await indexPromise;
  const model = await setModel(id, payload.modelId || state.models[0].id, progress);
  const pythonTimings = await python;
  return {
    ...model,
    models: state.models.map(({ parts, ...record }) => record),
    crossOriginIsolated: self.crossOriginIsolated,
    timings: { ...model.timings, ...pythonTimings, ready: seconds(t0) },
  };
}

/** Run the model once per view (shape[0]: 2 when the record asks for a mirrored second
 * view; the models' batch size is fixed at 1); the outputs are concatenated in order. */
async function runModel(input, shape) {
  const { ort, model } = state;
  const [views, ...one] = shape;
  const step = one.reduce((a, b) => a * b, 1);
  const name = state.session.outputNames[model.output.index];
  const parts = [];
  for (let view = 0; view < views; view += 1) {
    const slice = input.subarray(view * step, (view + 1) * step);
    const tensor = new ort.Tensor('float32', slice, [1, ...one]);
    const outputs = await state.session.run({ [model.input.name]: tensor });
    parts.push(outputs[name].data.slice());
    for (const value of Object.values(outputs)) value.dispose?.();
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
async function startImage(bytes, progress) {
  const record = JSON.stringify(state.model);
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
  if (!state.session) throw new WorkerError('internal', 'the model is not loaded yet');
  const started = await startImage(new Uint8Array(payload.bytes), progress);
  const input = started.input.slice(); // own copy: the Python heap view may move
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
    output = await runModel(input, started.shape);
  }
  const modelSeconds = seconds(t0);
  progress('model', 1, 1);
  checkCancelled(id);
  const done = callPython('complete', output, payload.refineEdges !== false, progress);
  if (started.info.frames > 1) {
    warn('animated-first-frame', `animated image: frame 1 of ${started.info.frames} used`,
      { frames: started.info.frames });
  }
  const timings = { ...done.timings, model: modelSeconds };
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
 *  maxSide, backgroundPhoto, knownBefore}. Resolves {after: Blob, before: Blob|null,
 *  beforeKey, width, height, outWidth, outHeight, seconds}. */
async function preview(payload) {
  const t0 = performance.now();
  const photo = payload.backgroundPhoto ? new Uint8Array(payload.backgroundPhoto) : null;
  const done = callPython('preview', JSON.stringify(payload.options || {}), payload.maxSide || 1024,
    photo, payload.knownBefore || '');
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
  try {
    checkCancelled(id);
    let outcome;
    if (type === 'init') {
      state.booting = state.booting || init(id, payload, progress);
      outcome = { result: await state.booting };
    } else {
      if (state.booting) await state.booting.catch(() => {});
      if (type === 'set-model') outcome = { result: await setModel(id, payload.modelId, progress) };
      else if (type === 'process') outcome = await process(id, payload, progress);
      else if (type === 'render') outcome = render(payload, progress);
      else if (type === 'preview') outcome = { result: await preview(payload) };
      else throw new WorkerError('internal', `unknown request ${type}`);
    }
    post({ id, type: 'result', result: outcome.result }, outcome.transfer || []);
  } catch (error) {
    if (type === 'init') state.booting = null; // let the UI retry
    post({ id, type: 'error', ...describe(error) });
  } finally {
    cancelled.delete(id);
  }
}

self.onmessage = ({ data }) => {
  const { id, type, payload } = data;
  if (type === 'cancel') {
    cancelled.add(payload.target);
    controllers.get(payload.target)?.abort();
    return;
  }
  queue = queue.then(() => handle(id, type, payload || {}));
};
