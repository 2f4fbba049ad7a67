// The model host: the models of models/index.json and their onnxruntime sessions, in
// worker.js's thread; the sessions themselves run in ort-host.js, onnxruntime's own worker.
// It owns the choice of backend (WebGPU on a hardware adapter, else WASM, and WASM after any
// WebGPU failure), the first WebGPU run's deadline, which model is loaded or loading, the
// small model kept for first looks, and the first-look gate: a big session's creation holds
// ort-host.js for seconds, so it waits until the photos that want a first look have had it.

import { loadModel } from './model-store.js';
import {
  checkCancelled, controllers, seconds, stopWaiting, untilCancelled, warn, WorkerError,
} from './worker-requests.js';

const here = (path) => new URL(path, import.meta.url).href;

const state = {
  host: null, // onnxruntime-web's worker (ort-host.js), see ortHost
  models: null, // models/index.json entries
  model: null, // current entry
  target: null, // the entry being loaded for the page, or loaded (then === model)
  loading: null, // promise of the latest model load (init's or set-model's)
  quick: null, // promise of {entry, session} for first looks (offcut.quick), or of null
  // Settles once what a first look needs is in (Python's runtime, the small model): a big
  // model's first download waits for it, so that on a first visit its bytes do not share the
  // link with them (40 Mbit/s: the first cutout came after 29 s instead of ~10).
  urgent: Promise.resolve(),
  lastRun: new Map(), // model id -> seconds its last run took here
  modelBytes: null, // kept for a WASM fallback session when WebGPU fails
  session: null,
  backend: null, // 'webgpu' | 'wasm'
  preferred: 'auto', // 'auto' | 'webgpu' | 'wasm'
  gpuUnproven: false, // WebGPU was picked automatically and has not finished a run yet
  webgpuDeadline: 0, // seconds for that first run; 0: from the model's WASM cost
  threads: 1,
};
const loadListeners = new Set(); // progress callbacks of requests waiting for a model load
// Photos that want a first look: request id -> {promise, resolve}. A big model's session
// creation holds onnxruntime's worker (ort-host.js) for seconds, so it waits for them.
const lookGates = new Map();

/** A big model's download (not a cached copy) waits until `promise` settles and the small
 *  model's session exists: `promise` is the start of what first looks need (Python). */
export function downloadAfter(promise) {
  state.urgent = promise;
}

const untilUrgentIsIn = async () => {
  await Promise.allSettled([state.urgent, state.quick]);
};

/** The entries of models/index.json (null before setModels). */
export const models = () => state.models;
export const setModels = (entries) => { state.models = entries; };
/** The entry being loaded for the page, or loaded; null when none is. */
export const target = () => state.target;
/** The entry whose session is loaded, or null. */
export const current = () => state.model;
/** Whether `entry`'s session is the one loaded. */
export const isLoaded = (entry) => Boolean(state.session) && state.model === entry;
export const backend = () => state.backend;
export const threads = () => state.threads;

/** The page's backend choice: payload.backend 'auto' (default) | 'webgpu' | 'wasm';
 *  payload.webgpuDeadline: seconds for the first automatic WebGPU run (0: the model's). */
export function configure(payload) {
  state.preferred = payload.backend || 'auto';
  state.webgpuDeadline = Number(payload.webgpuDeadline) || 0;
}

export async function startOrt() {
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

/** Whether this worker's session will be WebGPU's: a hardware adapter (or any, when the
 *  user forces WebGPU). Known before the download: the backends run different files. */
async function plansGpu() {
  const adapter = state.preferred === 'wasm' ? null : await webgpuAdapter();
  if (!adapter && state.preferred === 'webgpu') warn('webgpu-failed', 'no WebGPU adapter; using WASM');
  return Boolean(adapter) && (state.preferred === 'webgpu' || !isFallbackAdapter(adapter));
}

/** The file of `entry` that a backend runs. A model with a CPU form (`cpu` in
 *  models/index.json: int8 compute, about twice as fast on WASM) gives WASM that one; WebGPU
 *  has no int8 kernels and gets the main file. Each file is cached under its own key, and
 *  storing one drops the other's copy (46 MB this device would not use). */
export function fileFor(entry, gpu) {
  if (!entry.cpu) return entry;
  const cpuKey = `${entry.id}:cpu`;
  if (gpu) return { ...entry, staleKeys: [cpuKey] };
  return { ...entry, ...entry.cpu, storeKey: cpuKey, staleKeys: [entry.id] };
}

async function createSession(bytes, gpu) {
  state.gpuUnproven = false;
  if (gpu) {
    try {
      state.session = await remoteSession(bytes, 'webgpu');
      state.backend = 'webgpu';
      // Chosen automatically: the first run must show it is not slower than WASM would be.
      state.gpuUnproven = state.preferred === 'auto';
      return;
    } catch (error) {
      // The WebGPU file runs on WASM too (at float speed): no second download.
      warn('webgpu-failed', `WebGPU session failed, using WASM: ${error.message}`);
    }
  }
  state.session = await remoteSession(bytes, 'wasm');
  state.backend = 'wasm';
}

// Single-thread WASM seconds for one run of each model here (stack-facts.md: u2netp ~2 s,
// IS-Net medium 20-30 s as float; its CPU file, int8, takes about half: docs/quality.md);
// other models by size, at float IS-Net's rate.
const WASM_SECONDS = { u2netp: 3, 'isnet-medium': 15 };
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
  let gpu = false;
  try {
    gpu = await plansGpu();
    loaded = await loadModel(fileFor(entry, gpu), {
      progress: report,
      signal: controller.signal,
      warn,
      beforeDownload: state.quick ? untilUrgentIsIn : null,
    });
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
      stopWaiting(id);
    }
  }
  report('session', 0, 1);
  if (state.session) await state.session.release().catch(() => {});
  state.session = null;
  state.model = null;
  await createSession(loaded.bytes, gpu);
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
export const smallestModel = () => state.models.reduce((a, b) => ((b.bytes || 0) < (a.bytes || 0) ? b : a));

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

/** Wait for the page's model to finish loading; its download progress is this request's.
 *  The worker is idle meanwhile, so a cancel is handled here (the bridge does not replace
 *  the worker for it) and the download goes on for the next photo. */
export async function waitForModel(id, progress) {
  progress('model-wait', 0, 1);
  loadListeners.add(progress);
  try {
    await Promise.race([state.loading, untilCancelled(id)]);
  } finally {
    loadListeners.delete(progress);
    stopWaiting(id);
  }
  checkCancelled(id);
}

/** Run the model once per view (shape[0]: 2 when the record asks for a mirrored second
 * view; the models' batch size is fixed at 1); the outputs are concatenated in order. */
function runModel(input, shape) {
  return runSession(state.session, state.model, input, shape);
}

export async function runSession(session, model, input, shape) {
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

/** set-model: load `modelId` for the page (download, verify, cache, session). Resolves
 *  {modelId, backend, threads, cached, timings}. */
export function load(id, modelId, progress) {
  state.loading = setModel(id, modelId, progress);
  state.loading.catch(() => {});
  return state.loading;
}

/** init's load: once `ready` (onnxruntime started, the index read), the page's model or
 *  the index's first. Resolves as load does. */
export function loadFirst(id, modelId, ready, progress) {
  state.loading = (async () => {
    await ready; // awaited here first, so the target is set before process sees it
    return setModel(id, modelId || state.models[0].id, progress);
  })();
  state.loading.catch(() => {});
  return state.loading;
}

/** Run `entry` (the loaded model) on `input`: its first automatic WebGPU run against the
 *  deadline (see firstGpuRun), and after any other WebGPU failure a WASM session and a
 *  second try, so the photo is still processed. Resolves {output, seconds}. */
export async function run(entry, input, shape) {
  const t0 = performance.now();
  let output;
  try {
    output = state.gpuUnproven ? await firstGpuRun(input, shape) : await runModel(input, shape);
  } catch (error) {
    if (error instanceof WorkerError) throw error; // too slow: see firstGpuRun
    if (state.backend !== 'webgpu') throw new WorkerError('model-failed', error.message);
    warn('webgpu-failed', `WebGPU run failed, using WASM: ${error.message}`);
    state.preferred = 'wasm';
    await createSession(state.modelBytes, false);
    state.modelBytes = null; // moved to the WASM session
    output = await runModel(input, shape);
  }
  const took = seconds(t0);
  state.lastRun.set(entry.id, took);
  return { output, seconds: took };
}

// A first look is only worth its cost (one small-model run) before a model this slow.
const QUICK_WORTH_SECONDS = 2;

/** The small model for a first look before `entry` runs, {entry, session}, or null for
 *  none. Not when `entry` itself is quick here (a real GPU: the look would only delay the
 *  cutout), nor when the small session is not ready yet and `entry`'s is: waiting for it
 *  would only delay the cutout too. While `entry` still loads, it waits for the small one. */
export async function quickModel(id, entry) {
  if (!state.quick || state.lastRun.get(entry.id) < QUICK_WORTH_SECONDS) return null;
  // A settled promise wins a race against a plain value.
  const quick = isLoaded(entry) ? await Promise.race([state.quick, null])
    : await Promise.race([state.quick, untilCancelled(id)]).finally(() => stopWaiting(id));
  if (!quick || quick.entry.id === entry.id) return null;
  return quick;
}

/** Photo `id` wants a first look: a session's creation waits until openLookGate(id). */
export function holdForLook(id) {
  let resolve;
  const promise = new Promise((done) => { resolve = done; });
  lookGates.set(id, { promise, resolve });
}

/** Photo `id` had its first look (or will have none): session creation may go on. */
export function openLookGate(id) {
  lookGates.get(id)?.resolve();
  lookGates.delete(id);
}
