// Saving the cutout on screen: rendered at full size with the options, then downloaded or
// handed to the share sheet (phones: its "Save Image" reaches the photo library).

import { cancelJob, failed, holdShown, SUPERSEDED, track } from './jobs.js';
import { $, announce, exportOptions, idleState, setState, state, ui } from './page.js';
import { defaultFileName } from './ui/finishing.js';
import { saveBlob } from './ui/save-file.js';
import { clearShown } from './view.js';

const FORMAT_NAMES = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

/** The file the options make of the cutout on screen, rendered at full size: a File. */
async function renderFile() {
  const fileName = ui.finishing.fileName();
  ui.progress.start('Saving the file', { cancellable: true });
  // A batch, or a later attempt that failed or was cancelled, replaced what the worker
  // holds: rebuild what is on screen from the kept bytes before rendering.
  await holdShown('Saving the file');
  const request = state.worker.render(exportOptions(), (...args) => ui.progress.update(...args));
  const result = await track(request, 'render');
  ui.options.rememberColour();
  setState('done');
  return new File([result.bytes], fileName, { type: result.mime });
}

/** Runs a save (`action(file)`) of the file on screen, with the buttons off meanwhile. */
async function saveWith(action, retry) {
  if (!state.shown || state.job || ui.batch.running) return;
  ui.notices.clearError();
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

export function download() {
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
export function share() {
  return saveWith(async () => {
    const key = JSON.stringify([state.shown.key, exportOptions(), ui.finishing.fileName()]);
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
export function showSaved(text) {
  $('save-status').textContent = text;
  if (text) announce(text);
}

/** Whether this browser can hand a file to the share sheet (phones, some desktops). */
export function canShareFiles() {
  try {
    const probe = new File([new Uint8Array(1)], 'cutout.png', { type: 'image/png' });
    return typeof navigator.share === 'function' && Boolean(navigator.canShare?.({ files: [probe] }));
  } catch {
    return false;
  }
}

// Options compared as text; a background photo's bytes stand in by their size (JSON would
// write every ArrayBuffer as {}).
const optionsText = (options) => JSON.stringify(options, (key, value) => (
  value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? `bytes:${value.byteLength}` : value));

/** Leave the batch item under review: its file in the batch becomes what is on screen (its
 *  strokes, the options shown), rendered at full size, unless nothing changed. A failed
 *  render keeps the review open with Retry; nothing of the batch is touched meanwhile. */
export async function backToBatch() {
  const review = state.review;
  if (!review) return;
  const { item, source } = review;
  const shown = state.shown?.source === source && !state.shown.interim ? state.shown : null;
  if (state.job && (!shown || state.job.kind === 'process')) cancelJob(); // its opening: stop it
  let changed = null;
  if (shown) {
    const options = exportOptions({ strokes: false });
    const strokes = ui.touchup.strokes;
    const [, modelId, refine] = shown.key.split('|');
    const same = optionsText(options) === optionsText(item.renderOptions) && modelId === item.modelId
      && refine === String(item.refineEdges) && JSON.stringify(strokes) === JSON.stringify(item.strokes || []);
    if (!same) {
      if (state.job) return; // a save of it is running: back once it is done
      ui.notices.clearError();
      setState('processing');
      ui.progress.start('Updating its file in the batch', { cancellable: true });
      try {
        await holdShown('Updating its file in the batch');
        const request = state.worker.render(exportOptions(), (...args) => ui.progress.update(...args));
        const result = await track(request, 'render');
        changed = {
          bytes: result.bytes,
          mime: result.mime,
          outputName: defaultFileName(item.file.name, options.format, options.mask),
          renderOptions: options,
          refineEdges: refine === 'true',
          modelId,
          strokes,
        };
      } catch (error) {
        if (error?.code === 'cancelled' || error === SUPERSEDED) setState('done');
        else failed(error, backToBatch);
        return;
      }
    }
  }
  if (state.review !== review) return; // the batch was closed meanwhile
  state.review = null;
  clearShown();
  ui.batch.endReview(changed);
  setState(idleState()); // the render left it 'processing'
}

export function showDownloadLabel() {
  $('download').textContent = ui.finishing.mask ? 'Download mask PNG' : `Download ${FORMAT_NAMES[ui.options.format] || ''}`.trim();
}
