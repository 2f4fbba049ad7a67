// The page's shared state, and the widgets app.js made (`ui`), for the modules that act on
// them: engine.js (the worker's life), jobs.js (what runs in it), view.js (what is shown),
// save.js (the file). Nothing here asks the worker for anything.

import { backendLabel } from './messages.js';

export const $ = (id) => document.getElementById(id);

/** The widgets (ui/*.js), set once by app.js before anything runs: options, sections,
 *  notices, progress, viewer, finishing, touchup, batch, and isolation (the service worker's
 *  reload for cross-origin isolation). */
export const ui = {};

export const state = {
  worker: null,
  workerBroken: false, // the worker died: the next request needs a fresh one
  ready: false, // init finished: a model is loaded
  booting: null, // the init request in flight (not a job: a photo may run beside it)
  models: [],
  modelId: null, // the model the worker has loaded
  queued: null, // a source chosen before the engine was ready
  shown: null, // what is on screen: {source, width, height (the photo's), key, afterUrl, beforeUrl,
  //              lastPreview, interim: a first look by the small model, not downloadable}
  review: null, // a batch item open in the single view: {item, source}
  underInterim: null, // the result a first look covers, put back if the real one never comes
  job: null, // the one request in flight that Cancel or a newer request may stop
  workerHolds: null, // key of the cutout the worker keeps for render()
  lostView: null, // key of the cutout on screen that a worker restart dropped (a cancelled save)
  retry: null,
  threads: 0,
  nextSourceId: 1,
  readyWaiters: [], // batch items waiting for the engine: {resolve, reject}
};

export function setState(name) {
  document.body.dataset.state = name;
  const busy = name === 'processing' || name === 'booting';
  $('download').disabled = !state.shown || busy;
  $('share').disabled = !state.shown || busy;
  // No Download (and no result details) until there is something to download.
  $('download-box').hidden = !state.shown || Boolean(state.shown.interim);
  // On the image area only: aria-busy on <body> would also silence the live status line.
  $('workspace').setAttribute('aria-busy', String(busy));
}

export function idleState() {
  if (!state.ready) return 'booting';
  return state.shown ? 'done' : 'ready';
}

export function announce(text) {
  $('status-text').textContent = text;
}

export function showBackend(backend, threads) {
  if (!backend) return;
  document.body.dataset.backend = backend;
  $('status-backend').textContent = `Running on ${backendLabel(backend, threads)}`;
}

export function modelLabel(modelId) {
  const record = state.models.find((model) => model.id === modelId);
  if (record?.label) return record.label;
  const input = document.querySelector(`input[name="model"][value="${modelId}"]`);
  return input?.closest('label')?.querySelector('strong')?.textContent || '';
}

/** Everything render() needs: look, finishing and (for the image on screen) brush strokes. */
export function exportOptions({ strokes = true } = {}) {
  const result = { ...ui.options.renderOptions, ...ui.finishing.renderOptions };
  if (result.mask) result.format = 'png';
  if (strokes && ui.touchup.edited) result.strokes = ui.touchup.strokes;
  return result;
}
