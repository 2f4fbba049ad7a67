// What the workspace shows: the photo being worked on, the small model's first look, the
// result, and the live view, re-rendered by the worker at screen size when an option changes
// (the preview requests: one in flight at most, a newer change cancels it).

import { failed, process } from './jobs.js';
import { timingsText } from './messages.js';
import { $, announce, exportOptions, modelLabel, setState, showBackend, state, ui } from './page.js';
import { showDownloadLabel } from './save.js';

// Below this long edge, enlarged output shows soft edges (a warning, never a block).
const LOW_RES_EDGE = 1500;

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

/** Until there is a result, the workspace shows the drop zone, or the photo being worked on. */
export function showPending(source) {
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

/** The small model's first look at `source`, while the chosen model works or downloads.
 *  It stands in the view (labelled, nothing to download) until the real cutout replaces it;
 *  the result it covers comes back if that never happens (see dropInterim). */
export function showInterim(source, look) {
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
export function dropInterim(source) {
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

/** Nothing on screen: the view goes (a batch item opens in a clean view, or was left). */
export function clearShown() {
  cancelPreview();
  for (const shown of [state.shown, state.underInterim]) {
    if (!shown) continue;
    revokePreview(shown);
    URL.revokeObjectURL(shown.source.url);
  }
  state.shown = null;
  state.underInterim = null;
  $('interim-note').hidden = true;
  $('viewer-area').hidden = true;
  ui.touchup.clear();
}

export function showResult(source, result, { keepView, key }) {
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
  ui.touchup.setImage({ width: result.width, height: result.height }, { keep: sameSource });
  showPreview(result.preview, { keepView, first: !keepView });
  if (!sameSource) ui.finishing.setSource(source.name);
  showLowResolution(result.width, result.height);
  showDownloadLabel(); // the view came with the result: no second render

  $('result-timings').textContent = timingsText(result.timings);
  // The next photo's progress shows about how long the model and the first look take here.
  const label = modelLabel(result.modelId);
  ui.progress.expect('model', label, result.timings?.model);
  ui.progress.expect('quick', label, result.timings?.quick);
  if (result.backend) showBackend(result.backend, state.threads);

  const frames = Number(result.info?.frames) || 1;
  const workerSaidSo = [...ui.notices.shownWarnings].some((code) => /anim|frame/i.test(code));
  if (frames > 1 && !workerSaidSo) ui.notices.warn({ code: 'animated-first-frame', details: { frames } });
  const from = result.info?.shrunk_from;
  if (from) ui.notices.warn({ code: 'shrunk', details: { from, width: result.width, height: result.height } });

  setState('done');
  announce(`Done: background removed (${result.width} × ${result.height} px).`);
  // The control that started this (Choose a photo, in the drop zone) is hidden now: focus
  // would fall to <body>, and a keyboard user would start again from the page's top.
  const focused = document.activeElement;
  if (!focused || focused === document.body || !focused.checkVisibility?.()) {
    ($('share').hidden ? $('download') : $('share')).focus({ preventScroll: true });
  }
}

function showLowResolution(width, height) {
  const warning = $('low-res-warning');
  const longEdge = Math.max(width, height);
  warning.hidden = !(longEdge > 0 && longEdge < LOW_RES_EDGE);
  warning.textContent = warning.hidden ? ''
    : `This photo is ${longEdge} px on its long side (under ${LOW_RES_EDGE} px): edges will look soft when enlarged.`;
}

/** The view's longest side in device pixels: what a preview needs to look sharp. */
function previewSide() {
  const element = $('viewer');
  const css = Math.max(element.clientWidth, element.clientHeight) || 1024;
  return Math.min(PREVIEW_CAP, Math.ceil(css * (window.devicePixelRatio || 1)));
}

/** What preview() renders: the download's options, or, while the brush is out, the plain
 *  cutout in the photo's own frame (the brush paints in photo pixels). */
export function previewPayload(knownBefore = live.beforeKey) {
  const { backgroundPhoto, ...rest } = ui.touchup.mode === 'off' ? exportOptions() : {};
  return { options: rest, maxSide: previewSide(), backgroundPhoto: backgroundPhoto || null, knownBefore };
}

export function cancelPreview() {
  clearTimeout(live.timer);
  live.request?.cancel();
  live.request = null;
}

/** An option changed: render the view again once the changes pause. */
export function schedulePreview() {
  clearTimeout(live.timer);
  if (!state.shown) return;
  live.timer = setTimeout(updatePreview, PREVIEW_DELAY_MS);
}

async function updatePreview() {
  const shown = state.shown;
  // A batch or a re-run owns the worker's cutout; the re-run brings its own view.
  if (!shown || ui.batch.running || state.workerBroken) return;
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
export async function showBeforeLater() {
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
  ui.viewer.show({ originalUrl: shown.beforeUrl, cutoutUrl: shown.afterUrl, width, height }, { keepView: true });
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
  ui.viewer.show({ originalUrl: shown.beforeUrl, cutoutUrl: shown.afterUrl, width: result.outWidth, height: result.outHeight },
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
