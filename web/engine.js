// The engine's life: starting the worker (bridge.js) with the chosen model, switching models,
// the WebGPU policy the page keeps (a device where WebGPU was too slow starts on WASM), and
// what the page hears of the bridge's spare worker and restarts. Photos are jobs.js's.

import { OffcutWorker } from './bridge.js';
import { cancelJob, failed, process, rerun, rerunTarget, SUPERSEDED, track } from './jobs.js';
import { $, announce, idleState, modelLabel, setState, showBackend, state, ui } from './page.js';

// Set when WebGPU missed its first-run deadline here: this device then starts on WASM.
const SLOW_WEBGPU_KEY = 'offcut.webgpu-slow';

/** The worker's backend options. `?backend=wasm` (or webgpu) in the address forces a backend
 *  and `?webgpu-deadline=SECONDS` sets the first WebGPU run's deadline, for comparing and
 *  debugging; otherwise a device where WebGPU was too slow starts on WASM. */
function engineOptions() {
  const query = new URLSearchParams(location.search);
  const backend = query.get('backend');
  const deadline = Number(query.get('webgpu-deadline'));
  // A worker of a page the service worker controls gets its files from it (see python-host).
  const chosen = { controlled: Boolean(navigator.serviceWorker?.controller) };
  if (deadline > 0) chosen.webgpuDeadline = deadline;
  if (['wasm', 'webgpu'].includes(backend)) return { ...chosen, backend };
  if (readStorage(SLOW_WEBGPU_KEY)) return { ...chosen, backend: 'wasm' };
  return chosen;
}

function readStorage(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage blocked: nothing remembered
  }
}

function onWarning(warning) {
  if (warning.code === 'webgpu-slow') {
    try {
      localStorage.setItem(SLOW_WEBGPU_KEY, new Date().toISOString());
    } catch {
      // storage blocked: WebGPU gets its deadline again next time
    }
  }
  ui.notices.warn(warning);
}

let firstStartSettled;
/** Settles when the page's first engine start has (ready or failed): on a first visit the
 *  service worker registers then (ui/service-worker.js), so that its precache finds the
 *  runtime in the HTTP cache instead of downloading it a second time beside the worker. */
export const firstStart = new Promise((resolve) => { firstStartSettled = resolve; });

/** (Re)start the worker and load the chosen model; `then` runs once it is ready. */
export async function startEngine({ then } = {}) {
  cancelJob({ revert: false });
  state.worker?.terminate();
  state.ready = false;
  state.workerBroken = false;
  state.workerHolds = null;
  const worker = new OffcutWorker();
  worker.onWarning = onWarning;
  // The bridge only fails requests in flight; a worker that dies while idle must be noticed too.
  worker.onCrash = () => { state.workerBroken = true; };
  // A cancel replaced the busy worker: the new one does not hold the cutout on screen.
  worker.onRestart = () => {
    if (state.shown && state.workerHolds === state.shown.key) state.lostView = state.shown.key;
    state.workerHolds = null;
  };
  // Tests and the cancel benchmark wait on it: a cancel is only quick once a spare is ready.
  worker.onSpare = (spare) => {
    if (spare) document.body.dataset.spare = spare;
    else delete document.body.dataset.spare;
  };
  state.worker = worker;

  const modelId = ui.options.modelId;
  ui.options.setModelsEnabled(false);
  setState('booting');
  ui.progress.start('Starting the engine', { modelLabel: modelLabel(modelId) });
  // Not a job: a photo picked meanwhile runs beside it (it waits in the worker for what it
  // needs, and shows a first look), and owns the progress card while it does.
  const request = worker.init(modelId, (...args) => { if (!state.job) ui.progress.update(...args); },
    engineOptions());
  state.booting = request;
  request.then(firstStartSettled, firstStartSettled);
  try {
    const result = await request;
    if (state.worker !== worker) return; // a newer start replaced this one
    state.booting = null;
    if (!state.job) ui.progress.stop();
    engineReady(result);
    settleWaiters(null);
    if (then) then();
    else if (state.queued) process(state.queued);
    ui.isolation.settled(); // a reload that waited for the model's download may happen now
  } catch (error) {
    if (state.worker !== worker) return;
    state.booting = null;
    if (!state.job) ui.progress.stop();
    ui.options.setModelsEnabled(true);
    settleWaiters(error);
    failed(error, () => startEngine({ then }));
  }
}

/** Resolves once a model is loaded (starting or restarting the engine when needed). */
export function whenReady() {
  if (state.ready && !state.workerBroken) return Promise.resolve();
  return new Promise((resolve, reject) => {
    state.readyWaiters.push({ resolve, reject });
    if (state.workerBroken || !state.booting) startEngine();
  });
}

function settleWaiters(error) {
  const waiters = state.readyWaiters.splice(0);
  for (const waiter of waiters) {
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}

function engineReady(result) {
  state.ready = true;
  state.models = result.models || [];
  ui.options.showRecords(state.models);
  loadedModel(result);
  ui.options.setModelsEnabled(!ui.batch.running);
  if (state.job) return; // a photo is on its way: its own progress says what happens next
  setState(ui.batch.running ? 'processing' : idleState());
  announce(state.shown || state.queued ? 'Ready.' : 'Ready: add a photo to remove its background.');
}

function loadedModel(result) {
  state.modelId = result.modelId;
  ui.options.revertModel(result.modelId); // the worker may have fallen back to another model
  ui.options.rememberModel(result.modelId);
  ui.sections.refresh();
  state.threads = result.threads;
  showBackend(result.backend, result.threads);
  showModelCredit(result.modelId);
}

function showModelCredit(modelId) {
  const record = state.models.find((model) => model.id === modelId);
  const holder = $('footer-model');
  if (!record) return;
  const link = document.createElement('a');
  link.href = record.homepage;
  link.rel = 'noopener noreferrer';
  link.textContent = record.title || record.id;
  holder.replaceChildren('Model: ', link, ` (${record.licence})`);
}

export async function switchModel(modelId) {
  if (!state.ready || state.workerBroken) {
    ui.options.rememberModel(modelId);
    startEngine({ then: rerunTarget() ? () => rerun() : undefined });
    return;
  }
  const target = rerunTarget();
  cancelJob({ revert: false });
  ui.notices.clearError();
  setState('processing');
  const label = modelLabel(modelId);
  ui.progress.start(`Switching to the ${label} model`, { cancellable: true, modelLabel: label });
  try {
    const request = state.worker.setModel(modelId, (...args) => ui.progress.update(...args));
    const result = await track(request, 'model', () => ui.options.revertModel(state.modelId));
    loadedModel(result);
    if (target) process(target, { keepView: target === state.shown?.source });
    else {
      setState(idleState());
      announce(`${label} model ready.`);
    }
  } catch (error) {
    if (error === SUPERSEDED) return;
    ui.options.revertModel(state.modelId);
    failed(error, () => {
      ui.options.revertModel(modelId);
      switchModel(modelId);
    });
  }
}
