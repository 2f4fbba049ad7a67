// What runs in the worker for the page. One job at a time is current (state.job): a newer one
// supersedes it (its callers get SUPERSEDED and stay quiet), Cancel stops it, and a failure
// keeps whatever the user already has and offers Retry. A photo's run, its re-runs when an
// option needs the model again, and the batch's items are here.

import { startEngine, whenReady } from './engine.js';
import { $, announce, idleState, modelLabel, setState, state, ui } from './page.js';
import { backToBatch } from './save.js';
import {
  cancelPreview, clearShown, dropInterim, previewPayload, schedulePreview, showBeforeLater, showInterim, showPending, showResult,
} from './view.js';

// Thrown into a job's callers when a newer job replaced it: they must stay quiet.
export const SUPERSEDED = Symbol('superseded');
// Warnings that describe one particular image; a new image makes them stale.
export const PER_IMAGE_WARNINGS = ['multiple-files', 'animated-first-frame', 'original-not-shown', 'no-image-in-clipboard', 'shrunk'];

/** Make `request` the current job. Its promise rejects with SUPERSEDED if replaced. */
export function track(request, kind, onCancel) {
  const job = { request, kind, onCancel };
  state.job = job;
  return request.then(
    (result) => {
      if (state.job !== job) throw SUPERSEDED;
      state.job = null;
      ui.progress.stop();
      return result;
    },
    (error) => {
      if (state.job !== job) throw SUPERSEDED;
      state.job = null;
      ui.progress.stop();
      throw error;
    },
  );
}

export function cancelJob({ revert = true } = {}) {
  const job = state.job;
  if (!job) return;
  state.job = null;
  job.request.cancel();
  if (revert) job.onCancel?.();
  ui.progress.stop();
}

export function cancelByUser() {
  const kind = state.job?.kind;
  const source = state.job?.source;
  cancelJob();
  if (kind === 'process') {
    dropInterim(source);
    showPending(null);
  }
  // The engine is still starting: its progress shows again.
  if (!state.ready && state.booting) ui.progress.start('Starting the engine', { modelLabel: modelLabel(ui.options.modelId) });
  setState(idleState());
  announce(kind === 'model' ? `Kept the ${modelLabel(state.modelId)} model.` : 'Cancelled.');
}

/** A request failed: say so (unless cancelled), keep whatever is on screen, offer Retry. */
export function failed(error, retry) {
  if (error === SUPERSEDED) return;
  if (error?.code === 'cancelled') {
    setState(idleState());
    return;
  }
  if (error?.code === 'worker-crashed') state.workerBroken = true;
  state.retry = retry ? () => (state.workerBroken ? startEngine({ then: retry }) : retry()) : null;
  if (!ui.notices.showError(error, { canRetry: Boolean(retry) })) return;
  setState('error');
  announce(state.shown ? 'That did not work; your previous result is still here.' : 'That did not work.');
  $('error').scrollIntoView({ block: 'nearest' });
  if (!error?.code) console.error(error); // a bug of ours: the trace goes to the console only
}

/** The image that option changes should re-run: the one being worked on, else the one shown. */
export function rerunTarget() {
  return state.job?.kind === 'process' ? state.job.source : state.shown?.source || state.queued;
}

export function rerun() {
  if (ui.batch.running) return; // the worker is busy with the batch; the next items use the change
  const target = rerunTarget();
  if (target) process(target, { keepView: target === state.shown?.source });
}

/** The refinement of the shown cutout's edges, as its key records it. */
const shownRefine = () => state.shown?.key?.split('|')[2] === 'true';

/** "Refine edges" changed: the cutout on screen is made again from the model output the
 *  worker keeps (about a second, against a model run of seconds with Best). A photo still
 *  in the worker, or a cutout the worker no longer holds, runs again as before. */
export async function refineChanged(refine) {
  const shown = state.shown;
  if (ui.batch.running) return;
  if (!shown || shown.interim || state.job || state.workerHolds !== shown.key) {
    rerun();
    return;
  }
  ui.notices.clearError();
  setState('processing');
  cancelPreview();
  ui.progress.start(refine ? 'Refining the edges' : 'Plain edges', { cancellable: true });
  const request = state.worker.refinish(refine, (...args) => ui.progress.update(...args));
  // Cancelled: the box goes back to what the picture shows.
  const revert = () => ui.options.showRefine(shownRefine());
  try {
    const result = await track(request, 'refine', revert);
    const [id, modelId] = shown.key.split('|');
    shown.key = `${id}|${modelId}|${refine}`;
    state.workerHolds = shown.key;
    ui.progress.stop();
    setState('done');
    schedulePreview();
    const seconds = (result.timings?.finish || 0) + (result.timings?.foreground || 0);
    announce(`Edges ${refine ? 'refined' : 'left plain'} in ${seconds.toFixed(1)} s, without running the model again.`);
  } catch (error) {
    if (error === SUPERSEDED) return;
    revert();
    failed(error, () => refineChanged(refine));
  }
}

export async function acceptFile(file, { ignored = 0 } = {}) {
  if (ui.batch.running) {
    ui.batch.start([file]); // the worker is busy with the batch: this photo joins it
    return;
  }
  // A new photo ends the batch: asked first while its results are not saved.
  if (ui.batch.open && !(await ui.batch.close())) return;
  ui.notices.clearError();
  ui.notices.clearWarnings(PER_IMAGE_WARNINGS);
  if (ignored > 0) ui.notices.warn({ code: 'multiple-files', details: { count: ignored + 1, name: file.name } });
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

export async function process(source, { keepView = false } = {}) {
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
  ui.notices.clearError();
  setState('processing');
  // A first look at another photo is dropped now (what it covered comes back meanwhile).
  if (state.shown?.interim && state.shown.source !== source) dropInterim(state.shown.source);
  const refineEdges = ui.options.refineEdges;
  const modelId = state.modelId || ui.options.modelId;
  state.workerHolds = null; // the worker drops or replaces its cutout whatever happens next
  cancelPreview();
  const label = modelLabel(modelId);
  ui.progress.start(state.ready ? 'Reading your image' : `Starting the engine`, { cancellable: true, modelLabel: label });
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
      { name: source.name, refineEdges, preview: view, quick, shrink: Boolean(source.shrink) },
      (...args) => ui.progress.update(...args),
      (look) => { if (state.job?.request === request) showInterim(source, look); },
    );
    // A cancelled re-run of the photo on screen leaves it as it was: so is the box.
    const tracked = track(request, 'process', () => {
      if (state.shown?.key) ui.options.showRefine(shownRefine());
    });
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
    // Too large: the error's button shrinks it to fit (the message says when it can).
    const shrink = error?.code === 'image-too-large';
    failed(error, () => {
      if (shrink) source.shrink = true;
      process(source, { keepView });
    });
  }
}

/** Make sure the worker holds the cutout on screen (a batch or a failed re-run replaced it). */
export async function holdShown(label) {
  const shown = state.shown;
  if (state.workerHolds === shown.key) return;
  const [, , refine] = shown.key.split('|');
  const request = state.worker.process(
    shown.source.bytes.slice(0),
    { name: shown.source.name, refineEdges: refine === 'true', shrink: Boolean(shown.source.shrink) },
    (...args) => ui.progress.update(...args),
  );
  await track(request, 'render');
  state.workerHolds = shown.key;
  ui.progress.start(label, { cancellable: true });
}

/** One batch photo: process it, then render it with the batch's settings. */
export async function runBatchItem(file, settings, item) {
  if (file.size === 0) throw { code: 'empty-file', message: '0 bytes' };
  await whenReady();
  const bytes = await file.arrayBuffer();
  state.workerHolds = null; // the single view's cutout is replaced in the worker
  try {
    item.request = state.worker.process(bytes, { name: file.name, refineEdges: settings.refineEdges });
    const done = await item.request;
    // The worker holds this item's cutout now: opening it next needs no second model run.
    item.sourceId ??= state.nextSourceId++;
    Object.assign(item, { width: done.width, height: done.height, modelId: done.modelId });
    state.workerHolds = batchKey(item, done.modelId, settings.refineEdges);
    item.request = state.worker.render(settings.renderOptions);
    return await item.request;
  } catch (error) {
    state.workerHolds = null; // a cancelled render replaced the worker
    if (error?.code === 'worker-crashed') state.workerBroken = true; // the next item restarts it
    if (error?.code === 'webgpu-slow') return runBatchItem(file, settings, item); // now on WASM
    throw error;
  }
}

/** The key (as state.shown's) of a batch item's cutout with this model and refinement. */
const batchKey = (item, modelId, refine) => `${item.sourceId}|${modelId}|${refine}`;

/** A done batch item in the single-photo view (review), with its touch-up strokes. The
 *  worker holds one cutout: the item runs through the model again unless it is that one. */
export async function openBatchItem(item) {
  cancelJob({ revert: false });
  clearShown(); // the view starts from this photo, never from the one shown before
  ui.notices.clearError();
  setState('processing');
  const source = {
    id: item.sourceId,
    name: item.file.name || 'image',
    bytes: await item.file.arrayBuffer(),
    url: URL.createObjectURL(item.file),
    batchItem: item,
  };
  state.review = { item, source };
  const refine = ui.options.refineEdges;
  const key = batchKey(item, item.modelId, refine);
  if (state.workerHolds === key && state.modelId === item.modelId && state.ready && !state.workerBroken) {
    await showHeld(source, item, key);
  } else {
    await process(source);
  }
  const shown = state.shown;
  if (state.review?.source !== source || shown?.source !== source || shown.interim) return;
  if (item.strokes?.length) {
    // Its earlier strokes come back, undoable as before (same photo, same size).
    ui.touchup.done = item.strokes.map((stroke) => ({ ...stroke, points: stroke.points.map((p) => [...p]) }));
    ui.touchup.undone = [];
    ui.touchup.setImage({ width: shown.width, height: shown.height }, { keep: true });
    schedulePreview();
  }
}

/** The item's cutout is still in the worker: only its view is rendered. */
async function showHeld(source, item, key) {
  showPending(source);
  ui.progress.start('Opening the photo', { cancellable: true, modelLabel: modelLabel(item.modelId) });
  const request = state.worker.preview(previewPayload(''), (...args) => ui.progress.update(...args));
  try {
    const tracked = track(request, 'process');
    state.job.source = source;
    const preview = await tracked;
    const result = { width: item.width, height: item.height, preview, modelId: item.modelId, timings: {} };
    showResult(source, result, { keepView: false, key });
    showBeforeLater();
  } catch (error) {
    if (error === SUPERSEDED || error?.code === 'cancelled') return;
    await process(source); // the worker lost it after all: run it as usual
  }
}

export async function startBatch(files) {
  // An item under review goes back first (its file is updated), then the photos join.
  if (state.review) {
    await backToBatch();
    if (state.review) return;
  }
  if (state.job?.kind === 'process' || state.job?.kind === 'render') cancelJob({ revert: false });
  ui.progress.stop();
  ui.batch.start(files);
}
