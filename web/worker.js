// The worker: a dispatcher for the page's requests (protocol: bridge.js) over two hosts, each
// with one job. python-host.js owns Pyodide and every call into offcut.web; model-host.js owns
// the models' onnxruntime sessions (run in ort-host.js, onnxruntime's own worker). Here a
// request is routed, a photo is taken through both, and errors become what the page is sent.
// Protocol: in {id, type, payload}; out {id, type: 'progress'|'partial'|'result'|'error'} and
// {type: 'warning', code, message}. One request runs at a time, init beside them; 'cancel' is
// handled at once and takes effect at the next stage boundary (a running model or Python
// step cannot be interrupted: for a long one the bridge replaces the whole worker instead).

import { StoreError } from './model-store.js';
import * as models from './model-host.js';
import {
  before, bootPython, callPython, encodedPreview, fetchFile, preview, render, startImage,
} from './python-host.js';
import {
  cancel, checkCancelled, describe, post, seconds, settled, warn, WorkerError,
} from './worker-requests.js';

const here = (path) => new URL(path, import.meta.url).href;

const boot = {
  python: null, // promise: Pyodide booted and offcut imported
  prelude: null, // promise: onnxruntime-web started and models/index.json read
  init: null, // promise of init's result (the engine's start)
};
let queue = Promise.resolve();

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
  models.configure(payload);
  const indexPromise = fetchFile('./models/index.json').then((r) => r.json());
  // Python boots while the model downloads: they do not depend on each other. A photo sent
  // meanwhile waits for Python only (see process), not for the model.
  boot.python = bootPython(progress, { controlled: Boolean(payload.controlled) });
  boot.python.catch(() => {}); // awaited below; a failure before then must not go unhandled
  models.downloadAfter(boot.python);
  boot.prelude = (async () => {
    await models.startOrt();
    models.setModels(await indexPromise);
  })();
  const model = await models.loadFirst(id, payload.modelId, boot.prelude, progress);
  const pythonTimings = await boot.python;
  return {
    ...model,
    // `downloadBytes`: what the parts of the file this backend runs weigh (Best's int8 files
    // are half its source's `bytes`); the page shows it where the user chooses a model.
    models: models.models().map((entry) => {
      const { parts, cpu, ...record } = entry;
      const file = models.fileFor(entry, models.backend() === 'webgpu');
      return { ...record, downloadBytes: file.parts.reduce((sum, part) => sum + part.bytes, 0) };
    }),
    smallestModelId: models.smallestModel().id,
    crossOriginIsolated: self.crossOriginIsolated,
    timings: { ...model.timings, ...pythonTimings, ready: seconds(t0) },
  };
}

async function process(id, payload, progress) {
  if (!boot.python) throw new WorkerError('internal', 'the engine was not started');
  await boot.python; // the model may still be loading: a first look does not need it
  if (!models.target()) await boot.prelude.catch(() => {});
  if (!models.target()) {
    models.openLookGate(id); // the load below must not wait for this photo's first look
    await models.waitForModel(id, progress);
  }
  const target = models.target();
  if (!target) throw new WorkerError('internal', 'no model is loaded');
  const started = await startImage(new Uint8Array(payload.bytes), target, progress,
    { shrink: Boolean(payload.shrink) });
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
  models.openLookGate(id);
  if (!models.isLoaded(target)) await models.waitForModel(id, progress);
  // The page switched models while this photo waited: run the one it has now.
  if (models.current() !== target) throw new WorkerError('model-changed', 'the model changed while waiting');
  checkCancelled(id);
  progress('model', 0, 1);
  const { output, seconds: modelSeconds } = await models.run(target, input, started.shape);
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
      backend: models.backend(),
      modelId: models.current().id,
      timings,
    },
  };
}

/** The small model's look at the photo Python holds, posted as a 'partial' message before
 *  the chosen model runs (or while it still loads); model-host.js's quickModel says whether
 *  one is worth it. Resolves true when a look was posted. */
async function quickLook(id, target, view, progress) {
  const quick = await models.quickModel(id, target);
  if (!quick) return false;
  const t0 = performance.now();
  progress('quick', 0, 1);
  const side = view.maxSide || 1024;
  const record = JSON.stringify(quick.entry);
  const prepared = callPython('quick_start', record, side);
  const input = prepared.input.slice(); // own copy: the Python heap view may move
  const tModel = performance.now();
  const output = await models.runSession(quick.session, quick.entry, input, prepared.shape);
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

/** Edge refinement switched on the cutout Python holds, from its kept model output. */
function refinish(payload, progress) {
  const done = callPython('refinish', payload.refineEdges !== false, progress);
  return { result: { width: done.width, height: done.height, timings: done.timings } };
}

async function handle(id, type, payload) {
  const progress = (stage, done, total) => post({ id, type: 'progress', stage, done, total });
  // Only a photo being worked on holds session creation back; one queued behind another
  // request does not (that request may be the model load itself).
  if (type === 'process' && payload.quick && payload.preview) models.holdForLook(id);
  try {
    checkCancelled(id);
    let outcome;
    if (type === 'init') {
      boot.init = boot.init || init(id, payload, progress);
      outcome = { result: await boot.init };
    } else {
      // A photo may start while the model loads (process waits for what it needs itself);
      // anything else waits for the engine.
      if (boot.init && type !== 'process') await boot.init.catch(() => {});
      if (type === 'set-model') outcome = { result: await models.load(id, payload.modelId, progress) };
      else if (type === 'process') outcome = await process(id, payload, progress);
      else if (type === 'render') outcome = render(payload, progress);
      else if (type === 'refinish') outcome = refinish(payload, progress);
      else if (type === 'preview') outcome = { result: await preview(payload) };
      else if (type === 'before') outcome = { result: await before(payload) };
      else throw new WorkerError('internal', `unknown request ${type}`);
    }
    post({ id, type: 'result', result: outcome.result }, outcome.transfer || []);
  } catch (error) {
    if (type === 'init') boot.init = null; // let the UI retry
    post({ id, type: 'error', ...describe(error) });
  } finally {
    settled(id);
    models.openLookGate(id);
  }
}

self.onmessage = ({ data }) => {
  const { id, type, payload } = data;
  if (type === 'cancel') {
    cancel(payload.target);
    return;
  }
  // init runs beside the queue: a photo sent while the model downloads can start at once.
  if (type === 'init') handle(id, type, payload || {});
  else queue = queue.then(() => handle(id, type, payload || {}));
};
