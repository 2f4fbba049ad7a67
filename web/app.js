// Offcut's main thread: wires the controls to the worker (through bridge.js) and keeps the
// page's state. Everything slow happens in the worker; this file only decides what to ask
// for, shows progress, and makes sure a failure never loses what the user already has.

import { OffcutWorker } from './bridge.js';
import { backendLabel, timingsText } from './messages.js';
import { Batch } from './ui/batch.js';
import { defaultFileName, Finishing } from './ui/finishing.js';
import { setUpInput } from './ui/input.js';
import { Notices } from './ui/notices.js';
import { Options } from './ui/options.js';
import { ProgressCard } from './ui/progress.js';
import { saveBlob } from './ui/save-file.js';
import { Sections } from './ui/sections.js';
import { registerServiceWorker } from './ui/service-worker.js';
import { TouchUp } from './ui/touchup.js';
import { CompareViewer } from './ui/viewer.js';

const $ = (id) => document.getElementById(id);
const FORMAT_NAMES = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };
// Warnings that describe one particular image; a new image makes them stale.
const PER_IMAGE_WARNINGS = ['multiple-files', 'animated-first-frame', 'original-not-shown', 'no-image-in-clipboard'];
// Thrown into a job's callers when a newer job replaced it: they must stay quiet.
const SUPERSEDED = Symbol('superseded');
// Below this long edge, enlarged output shows soft edges (a warning, never a block).
const LOW_RES_EDGE = 1500;

const state = {
  worker: null,
  workerBroken: false, // the worker died: the next request needs a fresh one
  ready: false, // init finished: a model is loaded
  booting: null, // the init request in flight (not a job: a photo may run beside it)
  models: [],
  modelId: null, // the model the worker has loaded
  queued: null, // a source chosen before the engine was ready
  shown: null, // what is on screen: {source, width, height (the photo's), key, afterUrl, beforeUrl,
  //              lastPreview, interim: a first look by the small model, not downloadable}
  underInterim: null, // the result a first look covers, put back if the real one never comes
  job: null, // the one request in flight that Cancel or a newer request may stop
  workerHolds: null, // key of the cutout the worker keeps for render()
  lostView: null, // key of the cutout on screen that a worker restart dropped (a cancelled save)
  retry: null,
  threads: 0,
  nextSourceId: 1,
  readyWaiters: [], // batch items waiting for the engine: {resolve, reject}
};

// The live view is the file itself, rendered by the worker at screen size: option changes
// wait this long for the next one (a slider drag) before asking for a new render.
const PREVIEW_DELAY_MS = 50;
// Never render the view larger than this (device pixels), whatever the screen.
const PREVIEW_CAP = 2560;
const live = {
  timer: 0,
  request: null, // the preview render in flight; a newer change cancels it
  beforeKey: '', // which "before" image (the original through the same crop) is shown
  serial: 0, // previews shown so far (tests wait on it)
};
// Options a canvas preset set, to put back when it is left: {format, background}: {was, set}.
let presetChanges = null;

const options = new Options({
  onModelChange: (modelId) => switchModel(modelId),
  onRefineChange: () => rerun(),
  onLookChange: () => showLook(),
  onNotice: () => announce('JPEG cannot be transparent, so the background is now white.'),
});
const sections = new Sections();
const notices = new Notices({ onRetry: () => state.retry?.(), onDismiss: () => setState(idleState()) });
const progress = new ProgressCard({ announce, onCancel: cancelByUser });
const viewer = new CompareViewer({
  onZoom: (scale) => { $('zoom-level').textContent = `${Math.round(scale * 100)}%`; },
  onOriginalMissing: () => notices.warn({ code: 'original-not-shown' }),
});
const finishing = new Finishing({
  format: () => options.format,
  onLookChange: () => showLook(),
  onPreset: (name, preset) => applyPreset(preset),
});
const touchup = new TouchUp({
  viewer,
  announce,
  // Strokes show live on the brush canvas; out of brush mode (undo keys) the view re-renders.
  onChange: () => { if (touchup.mode === 'off') schedulePreview(); },
});
viewer.onBrushing = () => schedulePreview();
const batch = new Batch({
  runItem: runBatchItem,
  settings: () => {
    const renderOptions = exportOptions({ strokes: false });
    const refineEdges = options.refineEdges;
    return {
      renderOptions,
      refineEdges,
      fileName: (name) => defaultFileName(name, renderOptions.format, renderOptions.mask),
    };
  },
  onOpen: () => showBatch(true),
  onClose: () => showBatch(false),
  onRunning: (running) => {
    options.setModelsEnabled(!running && state.ready);
    setState(running ? 'processing' : idleState());
  },
  announce,
});

// ---------------------------------------------------------------- page state

function setState(name) {
  document.body.dataset.state = name;
  const busy = name === 'processing' || name === 'booting';
  $('download').disabled = !state.shown || busy;
  $('share').disabled = !state.shown || busy;
  // No Download (and no result details) until there is something to download.
  $('download-box').hidden = !state.shown || Boolean(state.shown.interim);
  // On the image area only: aria-busy on <body> would also silence the live status line.
  $('workspace').setAttribute('aria-busy', String(busy));
}

function idleState() {
  if (!state.ready) return 'booting';
  return state.shown ? 'done' : 'ready';
}

function announce(text) {
  $('status-text').textContent = text;
}

function showBackend(backend, threads) {
  if (!backend) return;
  document.body.dataset.backend = backend;
  $('status-backend').textContent = `Running on ${backendLabel(backend, threads)}`;
}

function modelLabel(modelId) {
  const record = state.models.find((model) => model.id === modelId);
  if (record?.label) return record.label;
  const input = document.querySelector(`input[name="model"][value="${modelId}"]`);
  return input?.closest('label')?.querySelector('strong')?.textContent || '';
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

// ---------------------------------------------------------------- jobs

/** Make `request` the current job. Its promise rejects with SUPERSEDED if replaced. */
function track(request, kind, onCancel) {
  const job = { request, kind, onCancel };
  state.job = job;
  return request.then(
    (result) => {
      if (state.job !== job) throw SUPERSEDED;
      state.job = null;
      progress.stop();
      return result;
    },
    (error) => {
      if (state.job !== job) throw SUPERSEDED;
      state.job = null;
      progress.stop();
      throw error;
    },
  );
}

function cancelJob({ revert = true } = {}) {
  const job = state.job;
  if (!job) return;
  state.job = null;
  job.request.cancel();
  if (revert) job.onCancel?.();
  progress.stop();
}

function cancelByUser() {
  const kind = state.job?.kind;
  const source = state.job?.source;
  cancelJob();
  if (kind === 'process') {
    dropInterim(source);
    showPending(null);
  }
  // The engine is still starting: its progress shows again.
  if (!state.ready && state.booting) progress.start('Starting the engine', { modelLabel: modelLabel(options.modelId) });
  setState(idleState());
  announce(kind === 'model' ? `Kept the ${modelLabel(state.modelId)} model.` : 'Cancelled.');
}

/** A request failed: say so (unless cancelled), keep whatever is on screen, offer Retry. */
function failed(error, retry) {
  if (error === SUPERSEDED) return;
  if (error?.code === 'cancelled') {
    setState(idleState());
    return;
  }
  if (error?.code === 'worker-crashed') state.workerBroken = true;
  state.retry = retry ? () => (state.workerBroken ? startEngine({ then: retry }) : retry()) : null;
  if (!notices.showError(error, { canRetry: Boolean(retry) })) return;
  setState('error');
  announce(state.shown ? 'That did not work; your previous result is still here.' : 'That did not work.');
  $('error').scrollIntoView({ block: 'nearest' });
  if (!error?.code) console.error(error); // a bug of ours: the trace goes to the console only
}

// ---------------------------------------------------------------- engine

// Set when WebGPU missed its first-run deadline here: this device then starts on WASM.
const SLOW_WEBGPU_KEY = 'offcut.webgpu-slow';

/** The worker's backend options. `?backend=wasm` (or webgpu) in the address forces a backend
 *  and `?webgpu-deadline=SECONDS` sets the first WebGPU run's deadline, for comparing and
 *  debugging; otherwise a device where WebGPU was too slow starts on WASM. */
function engineOptions() {
  const query = new URLSearchParams(location.search);
  const backend = query.get('backend');
  const deadline = Number(query.get('webgpu-deadline'));
  const chosen = deadline > 0 ? { webgpuDeadline: deadline } : {};
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
  notices.warn(warning);
}

/** (Re)start the worker and load the chosen model; `then` runs once it is ready. */
async function startEngine({ then } = {}) {
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

  const modelId = options.modelId;
  options.setModelsEnabled(false);
  setState('booting');
  progress.start('Starting the engine', { modelLabel: modelLabel(modelId) });
  // Not a job: a photo picked meanwhile runs beside it (it waits in the worker for what it
  // needs, and shows a first look), and owns the progress card while it does.
  const request = worker.init(modelId, (...args) => { if (!state.job) progress.update(...args); },
    engineOptions());
  state.booting = request;
  try {
    const result = await request;
    if (state.worker !== worker) return; // a newer start replaced this one
    state.booting = null;
    if (!state.job) progress.stop();
    engineReady(result);
    settleWaiters(null);
    if (then) then();
    else if (state.queued) process(state.queued);
    isolation.settled(); // a reload that waited for the model's download may happen now
  } catch (error) {
    if (state.worker !== worker) return;
    state.booting = null;
    if (!state.job) progress.stop();
    options.setModelsEnabled(true);
    settleWaiters(error);
    failed(error, () => startEngine({ then }));
  }
}

/** Resolves once a model is loaded (starting or restarting the engine when needed). */
function whenReady() {
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
  options.showRecords(state.models);
  loadedModel(result);
  options.setModelsEnabled(!batch.running);
  if (state.job) return; // a photo is on its way: its own progress says what happens next
  setState(batch.running ? 'processing' : idleState());
  announce(state.shown || state.queued ? 'Ready.' : 'Ready: add a photo to remove its background.');
}

function loadedModel(result) {
  state.modelId = result.modelId;
  options.revertModel(result.modelId); // the worker may have fallen back to another model
  options.rememberModel(result.modelId);
  sections.refresh();
  state.threads = result.threads;
  showBackend(result.backend, result.threads);
  showModelCredit(result.modelId);
}

async function switchModel(modelId) {
  if (!state.ready || state.workerBroken) {
    options.rememberModel(modelId);
    startEngine({ then: rerunTarget() ? () => rerun() : undefined });
    return;
  }
  const target = rerunTarget();
  cancelJob({ revert: false });
  notices.clearError();
  setState('processing');
  const label = modelLabel(modelId);
  progress.start(`Switching to the ${label} model`, { cancellable: true, modelLabel: label });
  try {
    const request = state.worker.setModel(modelId, (...args) => progress.update(...args));
    const result = await track(request, 'model', () => options.revertModel(state.modelId));
    loadedModel(result);
    if (target) process(target, { keepView: target === state.shown?.source });
    else {
      setState(idleState());
      announce(`${label} model ready.`);
    }
  } catch (error) {
    if (error === SUPERSEDED) return;
    options.revertModel(state.modelId);
    failed(error, () => {
      options.revertModel(modelId);
      switchModel(modelId);
    });
  }
}

// ---------------------------------------------------------------- images

/** The image that option changes should re-run: the one being worked on, else the one shown. */
function rerunTarget() {
  return state.job?.kind === 'process' ? state.job.source : state.shown?.source || state.queued;
}

function rerun() {
  if (batch.running) return; // the worker is busy with the batch; the next items use the change
  const target = rerunTarget();
  if (target) process(target, { keepView: target === state.shown?.source });
}

async function acceptFile(file, { ignored = 0 } = {}) {
  if (batch.running) {
    batch.start([file]); // the worker is busy with the batch: this photo joins it
    return;
  }
  if (batch.open) batch.close();
  notices.clearError();
  notices.clearWarnings(PER_IMAGE_WARNINGS);
  if (ignored > 0) notices.warn({ code: 'multiple-files', details: { count: ignored + 1, name: file.name } });
  if (file.size === 0) {
    failed({ code: 'empty-file', message: '0 bytes' }, null);
    return;
  }
  // Busy from the pick, not from the end of the read: a big file takes a moment to read, and
  // meanwhile the page must not still say 'done' about the last photo (tests wait on it too).
  setState('processing');
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (error) {
    failed({ code: 'internal', message: `could not read the file: ${error?.message || error}` }, () => acceptFile(file));
    return;
  }
  const source = {
    id: state.nextSourceId++,
    name: file.name || 'image',
    bytes, // kept here: each process() transfers a copy, so options can re-run it
    url: URL.createObjectURL(file),
  };
  process(source);
}

/** Until there is a result, the workspace shows the drop zone, or the photo being worked on. */
function showPending(source) {
  if (state.shown) return; // a previous result stays on screen until the new one is ready
  $('pending').hidden = !source;
  $('drop-zone').hidden = Boolean(source);
  const canvas = $('pending-image');
  canvas.hidden = true; // until this photo is drawn: never the last one's pixels
  pendingDrawn = source;
  if (source) drawPending(source, canvas).catch(() => {}); // undrawable (TIFF, HEIC): no view
}

let pendingDrawn = null; // the source showPending last asked to draw

/** Draw `source` into the pending canvas at the size it is shown. An <img> of the file kept
 *  its whole decode alive (a 24 MP photo: 270 MiB of the page's memory through the run);
 *  here the full decode lasts only for this draw, and the canvas holds screen-size pixels.
 *  (Decoding straight to a smaller size with createImageBitmap's resize options ignored
 *  EXIF orientation in Chromium 156.) */
async function drawPending(source, canvas) {
  const file = new Blob([source.bytes]);
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' })
    .catch(() => createImageBitmap(file)); // an engine that predates 'from-image': its default
  try {
    if (pendingDrawn !== source) return; // another photo, or none, since
    const box = $('pending').getBoundingClientRect();
    const side = Math.min(PREVIEW_CAP, Math.round(Math.max(box.width, box.height, 320) * devicePixelRatio));
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext('2d');
    context.imageSmoothingQuality = 'medium';
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    canvas.hidden = false;
  } finally {
    bitmap.close();
  }
}

async function process(source, { keepView = false } = {}) {
  showPending(source);
  // While the engine starts, the photo goes to the worker at once (it decodes it as soon as
  // Python is up and shows a first look while the chosen model loads); only a failed or
  // broken start makes it wait here.
  if (state.workerBroken || (!state.ready && !state.booting)) {
    if (state.queued && state.queued !== source && state.queued !== state.shown?.source) {
      URL.revokeObjectURL(state.queued.url);
    }
    state.queued = source;
    announce('Your photo will be processed as soon as the engine is ready.');
    setState(idleState()); // not 'processing' (acceptFile's): nothing runs until the engine is up
    if (!state.booting) startEngine(); // the last start failed: try again now
    return;
  }
  state.queued = null;
  cancelJob({ revert: false });
  notices.clearError();
  setState('processing');
  // A first look at another photo is dropped now (what it covered comes back meanwhile).
  if (state.shown?.interim && state.shown.source !== source) dropInterim(state.shown.source);
  const refineEdges = options.refineEdges;
  const modelId = state.modelId || options.modelId;
  state.workerHolds = null; // the worker drops or replaces its cutout whatever happens next
  cancelPreview();
  const label = modelLabel(modelId);
  progress.start(state.ready ? 'Reading your image' : `Starting the engine`, { cancellable: true, modelLabel: label });
  // A re-run of the photo on screen (another model, edges on or off) keeps its view: a
  // first look would only flash a rougher cutout over it.
  const quick = !(keepView && state.shown?.source === source && !state.shown.interim);
  // A new result's view leads with the cutout (the original is off to the left): its
  // original comes just after it (showBeforeLater), outside the time the user waits. A
  // re-run keeps the view, divider and all, so it brings the original along.
  const view = { ...previewPayload(''), withBefore: keepView };
  let request;
  try {
    request = state.worker.process(
      source.bytes.slice(0),
      { name: source.name, refineEdges, preview: view, quick },
      (...args) => progress.update(...args),
      (look) => { if (state.job?.request === request) showInterim(source, look); },
    );
    const tracked = track(request, 'process');
    state.job.source = source;
    const result = await tracked;
    const key = `${source.id}|${result.modelId}|${refineEdges}`;
    state.workerHolds = key;
    showResult(source, result, { keepView: keepView || Boolean(state.shown?.interim), key });
    // The look changed while the photo was in the worker: show the current one (with its
    // original); else fetch the original the view was shown without.
    if (JSON.stringify(previewPayload('').options) !== JSON.stringify(view.options)) schedulePreview();
    else showBeforeLater();
  } catch (error) {
    if (error !== SUPERSEDED) dropInterim(source);
    // WebGPU was too slow: the bridge already restarted the engine on WASM; run it there.
    if (error?.code === 'webgpu-slow') return process(source, { keepView });
    if (error !== SUPERSEDED) showPending(null);
    // The engine itself did not start: its own failure says so and its Retry runs this photo.
    if (!state.ready && error?.code !== 'cancelled' && error !== SUPERSEDED) {
      const started = state.booting ? await state.booting.then(() => true, () => false) : false;
      if (!started) {
        state.queued = source;
        return;
      }
    }
    failed(error, () => process(source, { keepView }));
  }
}

/** The small model's first look at `source`, while the chosen model works or downloads.
 *  It stands in the view (labelled, nothing to download) until the real cutout replaces it;
 *  the result it covers comes back if that never happens (see dropInterim). */
function showInterim(source, look) {
  const previous = state.shown;
  if (!previous?.interim) state.underInterim = previous;
  else revokePreview(previous);
  state.shown = {
    source, width: look.preview.outWidth, height: look.preview.outHeight, key: null,
    afterUrl: null, beforeUrl: null, interim: true,
  };
  $('drop-zone').hidden = true;
  $('pending').hidden = true;
  $('viewer-area').hidden = false;
  showPreview(look.preview, { first: true });
  const note = $('interim-note');
  note.textContent = `First look by the ${modelLabel(look.modelId)} model. `
    + `The ${modelLabel(look.finalModelId)} cutout replaces it when ready.`;
  note.hidden = false;
  note.dataset.stages = JSON.stringify(look.stages || {}); // for tests/bench/peer.py
  setState('processing');
  announce(`First look ready; the ${modelLabel(look.finalModelId)} model is still working.`);
}

/** The real cutout for `source` will not come (cancelled, failed): the first look goes and
 *  what it covered comes back. */
function dropInterim(source) {
  const shown = state.shown;
  if (!shown?.interim || shown.source !== source) return;
  revokePreview(shown);
  $('interim-note').hidden = true;
  const under = state.underInterim;
  state.underInterim = null;
  state.shown = under;
  if (under?.lastPreview) {
    under.afterUrl = under.beforeUrl = null;
    showPreview(under.lastPreview, { first: true });
  } else {
    state.shown = null;
    $('viewer-area').hidden = true;
    $('drop-zone').hidden = false;
  }
}

function showResult(source, result, { keepView, key }) {
  const under = state.underInterim;
  state.underInterim = null;
  $('interim-note').hidden = true;
  // What a first look covered is replaced now, as it would have been without one.
  const previous = state.shown?.interim ? under : state.shown;
  if (state.shown?.interim) revokePreview(state.shown);
  state.shown = { source, width: result.width, height: result.height, key, afterUrl: null, beforeUrl: null };
  const sameSource = previous?.source === source;
  if (previous) {
    revokePreview(previous);
    if (previous.source !== source) URL.revokeObjectURL(previous.source.url);
  }

  $('drop-zone').hidden = true;
  $('pending').hidden = true;
  $('viewer-area').hidden = false; // before show(): fitting needs the viewer's real size
  // The same photo re-run (another model, edges on or off) keeps its brush strokes.
  touchup.setImage({ width: result.width, height: result.height }, { keep: sameSource });
  showPreview(result.preview, { keepView, first: !keepView });
  if (!sameSource) finishing.setSource(source.name);
  showLowResolution(result.width, result.height);
  showDownloadLabel(); // the view came with the result: no second render

  $('result-timings').textContent = timingsText(result.timings);
  // The next photo's progress shows about how long the model and the first look take here.
  const label = modelLabel(result.modelId);
  progress.expect('model', label, result.timings?.model);
  progress.expect('quick', label, result.timings?.quick);
  if (result.backend) showBackend(result.backend, state.threads);

  const frames = Number(result.info?.frames) || 1;
  const workerSaidSo = [...notices.shownWarnings].some((code) => /anim|frame/i.test(code));
  if (frames > 1 && !workerSaidSo) notices.warn({ code: 'animated-first-frame', details: { frames } });

  setState('done');
  announce(`Done: background removed (${result.width} × ${result.height} px).`);
  // The control that started this (Choose a photo, in the drop zone) is hidden now: focus
  // would fall to <body>, and a keyboard user would start again from the page's top.
  const focused = document.activeElement;
  if (!focused || focused === document.body || !focused.checkVisibility?.()) {
    ($('share').hidden ? $('download') : $('share')).focus({ preventScroll: true });
  }
}

// ---------------------------------------------------------------- live view

/** The view's longest side in device pixels: what a preview needs to look sharp. */
function previewSide() {
  const element = $('viewer');
  const css = Math.max(element.clientWidth, element.clientHeight) || 1024;
  return Math.min(PREVIEW_CAP, Math.ceil(css * (window.devicePixelRatio || 1)));
}

/** What preview() renders: the download's options, or, while the brush is out, the plain
 *  cutout in the photo's own frame (the brush paints in photo pixels). */
function previewPayload(knownBefore = live.beforeKey) {
  const { backgroundPhoto, ...rest } = touchup.mode === 'off' ? exportOptions() : {};
  return { options: rest, maxSide: previewSide(), backgroundPhoto: backgroundPhoto || null, knownBefore };
}

function cancelPreview() {
  clearTimeout(live.timer);
  live.request?.cancel();
  live.request = null;
}

/** An option changed: render the view again once the changes pause. */
function schedulePreview() {
  clearTimeout(live.timer);
  if (!state.shown) return;
  live.timer = setTimeout(updatePreview, PREVIEW_DELAY_MS);
}

async function updatePreview() {
  const shown = state.shown;
  // A batch or a re-run owns the worker's cutout; the re-run brings its own view.
  if (!shown || batch.running || state.workerBroken) return;
  if (state.workerHolds !== shown.key) {
    // A cancelled save replaced the worker: run the photo again, the view comes with it.
    if (state.lostView === shown.key && !state.job) {
      state.lostView = null;
      process(shown.source, { keepView: true });
    }
    return;
  }
  live.request?.cancel(); // a stale render is dropped, queued or not
  const request = state.worker.preview(previewPayload());
  live.request = request;
  $('viewer').dataset.preview = 'updating';
  try {
    const result = await request;
    if (live.request !== request || state.shown !== shown) return;
    live.request = null;
    showPreview(result, { keepView: true });
  } catch (error) {
    if (live.request !== request) return;
    live.request = null;
    $('viewer').dataset.preview = 'failed';
    if (error?.code !== 'cancelled') failed(error, () => updatePreview());
  }
}

/** The original for a view that was shown without it (a new result's first view). Dropped
 *  when anything newer is on screen by then: a later preview brings its own. */
async function showBeforeLater() {
  const shown = state.shown;
  if (!shown || shown.beforeUrl || !shown.lastPreview || state.workerHolds !== shown.key) return;
  const serial = live.serial;
  const { options, maxSide } = previewPayload('');
  let result;
  try {
    result = await state.worker.before({ options, maxSide });
  } catch {
    return; // the view works without it (no compare divider); the next preview retries
  }
  if (state.shown !== shown || live.serial !== serial || shown.beforeUrl) return;
  shown.beforeUrl = URL.createObjectURL(result.before);
  shown.lastPreview = { ...shown.lastPreview, before: result.before };
  live.beforeKey = result.beforeKey;
  const { outWidth: width, outHeight: height } = shown.lastPreview;
  viewer.show({ originalUrl: shown.beforeUrl, cutoutUrl: shown.afterUrl, width, height }, { keepView: true });
}

function revokePreview(shown) {
  if (shown.afterUrl) URL.revokeObjectURL(shown.afterUrl);
  if (shown.beforeUrl) URL.revokeObjectURL(shown.beforeUrl);
}

/** Put a preview render on screen; the sizes shown are the file's. */
function showPreview(result, { keepView = true, first = false } = {}) {
  const shown = state.shown;
  if (!result || !shown) return;
  const oldAfter = shown.afterUrl;
  const oldBefore = result.before ? shown.beforeUrl : null;
  shown.lastPreview = result.before ? result : { ...result, before: shown.lastPreview?.before || null };
  shown.afterUrl = URL.createObjectURL(result.after);
  if (result.before) shown.beforeUrl = URL.createObjectURL(result.before);
  live.beforeKey = result.beforeKey;
  viewer.show({ originalUrl: shown.beforeUrl, cutoutUrl: shown.afterUrl, width: result.outWidth, height: result.outHeight },
    { keepView: keepView && !first, leadWithCutout: first });
  // The old images stay on screen until the new ones are decoded; then they can go.
  setTimeout(() => {
    if (oldAfter) URL.revokeObjectURL(oldAfter);
    if (oldBefore) URL.revokeObjectURL(oldBefore);
  }, 1000);
  const view = $('viewer');
  Object.assign(view.dataset, {
    preview: 'shown',
    previewWidth: String(result.width),
    previewHeight: String(result.height),
    outputWidth: String(result.outWidth),
    outputHeight: String(result.outHeight),
    previewSerial: String(++live.serial),
  });
  $('result-size').textContent = `${result.outWidth} × ${result.outHeight} px`;
}

/** Choosing a canvas preset sets what it needs (marketplace: white JPEG); leaving it puts
 *  back what it changed, unless the user changed that since. */
function applyPreset(preset) {
  if (presetChanges) {
    const { format, background } = presetChanges;
    presetChanges = null;
    if (format && options.format === format.set) options.setFormat(format.was);
    if (background && options.backgroundChoice === background.set) options.setBackgroundChoice(background.was);
  }
  if (!preset) return;
  const was = { format: options.format, background: options.backgroundChoice };
  if (preset.format) options.setFormat(preset.format);
  if (preset.background) options.setBackgroundChoice(preset.background);
  const changes = {};
  if (options.format !== was.format) changes.format = { was: was.format, set: options.format };
  if (options.backgroundChoice !== was.background) {
    changes.background = { was: was.background, set: options.backgroundChoice };
  }
  presetChanges = changes;
}

/** Background, shadow, crop, canvas and format change the view and the button's label. */
function showLook() {
  showSaved(''); // the note was about the file before this change
  schedulePreview();
  showDownloadLabel();
  sections.refresh();
}

function showDownloadLabel() {
  $('download').textContent = finishing.mask ? 'Download mask PNG' : `Download ${FORMAT_NAMES[options.format] || ''}`.trim();
}

function showLowResolution(width, height) {
  const warning = $('low-res-warning');
  const longEdge = Math.max(width, height);
  warning.hidden = !(longEdge > 0 && longEdge < LOW_RES_EDGE);
  warning.textContent = warning.hidden ? ''
    : `This photo is ${longEdge} px on its long side (under ${LOW_RES_EDGE} px): edges will look soft when enlarged.`;
}

/** Everything render() needs: look, finishing and (for the image on screen) brush strokes. */
function exportOptions({ strokes = true } = {}) {
  const result = { ...options.renderOptions, ...finishing.renderOptions };
  if (result.mask) result.format = 'png';
  if (strokes && touchup.edited) result.strokes = touchup.strokes;
  return result;
}

// ---------------------------------------------------------------- batch

function showBatch(open) {
  document.body.dataset.mode = open ? 'batch' : 'single';
  $('batch').hidden = !open;
  if (open) {
    $('drop-zone').hidden = true;
    $('pending').hidden = true;
    $('viewer-area').hidden = true;
    notices.clearError();
  } else {
    $('viewer-area').hidden = !state.shown;
    $('drop-zone').hidden = Boolean(state.shown);
    setState(idleState());
  }
}

/** One batch photo: process it, then render it with the batch's settings. */
async function runBatchItem(file, settings, item) {
  if (file.size === 0) throw { code: 'empty-file', message: '0 bytes' };
  await whenReady();
  const bytes = await file.arrayBuffer();
  state.workerHolds = null; // the single view's cutout is replaced in the worker
  try {
    item.request = state.worker.process(bytes, { name: file.name, refineEdges: settings.refineEdges });
    await item.request;
    item.request = state.worker.render(settings.renderOptions);
    return await item.request;
  } catch (error) {
    if (error?.code === 'worker-crashed') state.workerBroken = true; // the next item restarts it
    if (error?.code === 'webgpu-slow') return runBatchItem(file, settings, item); // now on WASM
    throw error;
  }
}

function startBatch(files) {
  if (state.job?.kind === 'process' || state.job?.kind === 'render') cancelJob({ revert: false });
  progress.stop();
  batch.start(files);
}

/** Make sure the worker holds the cutout on screen (a batch or a failed re-run replaced it). */
async function holdShown(label) {
  const shown = state.shown;
  if (state.workerHolds === shown.key) return;
  const [, , refine] = shown.key.split('|');
  const request = state.worker.process(
    shown.source.bytes.slice(0),
    { name: shown.source.name, refineEdges: refine === 'true' },
    (...args) => progress.update(...args),
  );
  await track(request, 'render');
  state.workerHolds = shown.key;
  progress.start(label, { cancellable: true });
}

/** The file the options make of the cutout on screen, rendered at full size: a File. */
async function renderFile() {
  const fileName = finishing.fileName();
  progress.start('Saving the file', { cancellable: true });
  // A batch, or a later attempt that failed or was cancelled, replaced what the worker
  // holds: rebuild what is on screen from the kept bytes before rendering.
  await holdShown('Saving the file');
  const request = state.worker.render(exportOptions(), (...args) => progress.update(...args));
  const result = await track(request, 'render');
  options.rememberColour();
  setState('done');
  return new File([result.bytes], fileName, { type: result.mime });
}

/** Runs a save (`action(file)`) of the file on screen, with the buttons off meanwhile. */
async function saveWith(action, retry) {
  if (!state.shown || state.job || batch.running) return;
  notices.clearError();
  showSaved('');
  for (const id of ['download', 'share']) $(id).disabled = true;
  try {
    await action();
  } catch (error) {
    failed(error, retry);
  } finally {
    const off = !state.shown || ['processing', 'booting'].includes(document.body.dataset.state);
    for (const id of ['download', 'share']) $(id).disabled = off;
  }
}

function download() {
  return saveWith(async () => {
    const file = await renderFile();
    saveBlob(file, file.name);
    showSaved(`Saved ${file.name} to your downloads.`);
  }, download);
}

// A file rendered for Share that the browser would not share yet (its user activation ran out
// while rendering): the next tap shares it at once. {key, file}.
let sharePending = null;

/** Share sheet (phones: "Save Image" puts it in the photo library). */
function share() {
  return saveWith(async () => {
    const key = JSON.stringify([state.shown.key, exportOptions(), finishing.fileName()]);
    const file = sharePending?.key === key ? sharePending.file : await renderFile();
    sharePending = null;
    try {
      await navigator.share({ files: [file] });
      showSaved(`Shared ${file.name}.`);
    } catch (error) {
      if (error?.name === 'AbortError') showSaved('Not saved: the share sheet was closed.');
      else if (error?.name === 'NotAllowedError') {
        sharePending = { key, file };
        showSaved('Your file is ready: tap “Save image” again.');
      } else throw { code: 'share-failed', message: String(error?.message || error) };
    }
  }, share);
}

/** A save's outcome in the action bar (in view on a phone), and for screen readers. */
function showSaved(text) {
  $('save-status').textContent = text;
  if (text) announce(text);
}

/** Whether this browser can hand a file to the share sheet (phones, some desktops). */
function canShareFiles() {
  try {
    const probe = new File([new Uint8Array(1)], 'cutout.png', { type: 'image/png' });
    return typeof navigator.share === 'function' && Boolean(navigator.canShare?.({ files: [probe] }));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- wiring

function setUpControls() {
  $('download').addEventListener('click', download);
  $('share').hidden = !canShareFiles();
  $('share').addEventListener('click', share);
  // A real button (labels are not focusable), so keyboard users can pick another image too.
  $('new-image').addEventListener('click', () => $('file-input').click());
  $('zoom-in').addEventListener('click', () => viewer.zoomIn());
  $('zoom-out').addEventListener('click', () => viewer.zoomOut());
  $('zoom-fit').addEventListener('click', () => viewer.fit());
  $('zoom-100').addEventListener('click', () => viewer.actualSize());

  // Escape does what the progress card's Cancel does, wherever the focus is (a dialog or an
  // open <select> takes its own Escape first). Not for batches: they have their own Stop.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented || batch.running) return;
    if (!state.job || $('cancel').hidden || !$('progress').checkVisibility?.()) return;
    event.preventDefault();
    cancelByUser();
  });

  // Zoom keys work anywhere on the page except where they are typing or choosing.
  document.addEventListener('keydown', (event) => {
    if (!viewer.hasImage || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.('input, select, textarea, [contenteditable]')) return;
    const actions = { '+': 'zoomIn', '=': 'zoomIn', '-': 'zoomOut', _: 'zoomOut', 0: 'fit', 1: 'actualSize' };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    viewer[action]();
  });

  setUpInput({
    onFile: acceptFile,
    onFiles: startBatch,
    onNotImage: (file) => {
      notices.clearWarnings(PER_IMAGE_WARNINGS);
      failed({ code: 'not-an-image', message: file.type || 'unknown type', details: { name: file.name } }, null);
    },
    onNoImageInClipboard: () => notices.warn({ code: 'no-image-in-clipboard' }),
  });
}

setUpControls();
document.body.dataset.mode = 'single';
showLook();
const isolation = registerServiceWorker({
  // A reload for cross-origin isolation loses nothing only while nothing is loaded: no model
  // download running (it would start over), no photo picked, shown or being worked on.
  idle: () => !state.booting && !state.job && !state.shown && !state.queued && !batch.running,
  onReload: () => announce('Reloading once to use every processor core…'),
  onReloaded: () => notices.warn({ code: 'reloaded-for-threads' }),
});
startEngine();
