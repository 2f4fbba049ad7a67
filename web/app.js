// Offcut's main thread: the wiring. It makes the widgets (ui/*.js) and connects them to the
// modules that act: engine.js (the worker's life), jobs.js (what runs in it), view.js (what
// is shown), save.js (the file). Everything slow happens in the worker; the page only decides
// what to ask for, shows progress, and never loses what the user already has on a failure.

import { Batch } from './ui/batch.js';
import { setUpConfirm } from './ui/confirm.js';
import { defaultFileName, Finishing } from './ui/finishing.js';
import { showFirstVisitSize } from './ui/first-visit.js';
import { setUpInput } from './ui/input.js';
import { takeSharedPhoto } from './ui/shared-photo.js';
import { Notices } from './ui/notices.js';
import { Options } from './ui/options.js';
import { ProgressCard } from './ui/progress.js';
import { Sections } from './ui/sections.js';
import { registerServiceWorker } from './ui/service-worker.js';
import { TouchUp } from './ui/touchup.js';
import { CompareViewer } from './ui/viewer.js';
import { firstStart, startEngine, switchModel } from './engine.js';
import {
  acceptFile, cancelByUser, failed, openBatchItem, PER_IMAGE_WARNINGS, refineChanged, runBatchItem, startBatch,
} from './jobs.js';
import { $, announce, exportOptions, idleState, setState, state, ui } from './page.js';
import { backToBatch, canShareFiles, download, share, showDownloadLabel, showSaved } from './save.js';
import { schedulePreview } from './view.js';

// Options a canvas preset set, to put back when it is left: {format, background}: {was, set}.
let presetChanges = null;

const options = new Options({
  onModelChange: (modelId) => switchModel(modelId),
  onRefineChange: (refine) => refineChanged(refine),
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
  onOpenItem: (item) => {
    showReview(item);
    openBatchItem(item);
  },
  onReviewEnd: () => showBatch(true),
  onRunning: (running) => {
    options.setModelsEnabled(!running && state.ready);
    setState(running ? 'processing' : idleState());
  },
  announce,
});
Object.assign(ui, { options, sections, notices, progress, viewer, finishing, touchup, batch });

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

function showBatch(open) {
  document.body.dataset.mode = open ? 'batch' : 'single';
  $('batch').hidden = !open;
  $('review-bar').hidden = true;
  if (!open) state.review = null; // the batch closed under an item being reviewed
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

/** A batch item in the single-photo view: every option and the brush, and the way back. */
function showReview(item) {
  document.body.dataset.mode = 'review';
  const count = batch.items.length;
  $('back-to-batch').textContent = `Back to batch (${count} ${count === 1 ? 'photo' : 'photos'})`;
  $('review-name').textContent = item.file.webkitRelativePath || item.file.name || '';
  $('review-bar').hidden = false;
  $('drop-zone').hidden = true;
  // The button that opened it is hidden now: the way back is where focus lands.
  $('back-to-batch').focus({ preventScroll: true });
  notices.clearError();
  announce(`Opened ${item.file.name || 'the photo'} from the batch.`);
}

function setUpControls() {
  setUpConfirm();
  $('back-to-batch').addEventListener('click', () => backToBatch());
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
    if ($('confirm').open) return; // the question's Escape is its own answer (Keep)
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
showFirstVisitSize($('first-visit-note'));
// The model cards' sizes before the engine has started (a first visit decides on them).
fetch('./models/index.json').then((response) => response.json())
  .then((index) => { if (!state.ready) options.showRecords(index); })
  .catch(() => {}); // the engine's start fills them in too
ui.isolation = registerServiceWorker({
  after: firstStart,
  // A reload for cross-origin isolation loses nothing only while nothing is loaded: no model
  // download running (it would start over), no photo picked, shown or being worked on.
  idle: () => !state.booting && !state.job && !state.shown && !state.queued && !batch.open,
  onReload: () => announce('Reloading once to use every processor core…'),
  onReloaded: () => notices.warn({ code: 'reloaded-for-threads' }),
});
startEngine();
// Shared to Offcut from another app: the photo goes in as if it were picked here.
takeSharedPhoto().then((file) => { if (file) acceptFile(file); });
