// Batch: many photos through the one worker, one after another, with the options the user
// chose. Each item shows its status (queued, processing, done, failed with the friendly
// message) and a thumbnail; a failure does not stop the rest. "Download all" is one ZIP.
// A done item opens in the single-photo view (review): the batch stays open behind it, and
// what the user made of the item there replaces its file. Results not yet in a downloaded
// ZIP are not thrown away without asking.

import { describeError } from '../messages.js';
import { confirmDialog } from './confirm.js';
import { saveBlob } from './save-file.js';
import { thumbnail } from './thumbs.js';
import { makeZip, uniqueNames } from './zip.js';

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = { queued: 'Waiting', processing: 'Working…', done: 'Done', failed: 'Failed' };

export class Batch {
  /**
   * @param {object} hooks
   *   runItem(file, settings, item) -> Request-like promise of {bytes, mime, format}; the
   *     Request (with .cancel()) is handed back through item.request while it runs.
   *   settings() -> {renderOptions, fileName(sourceName)} snapshot for a run.
   *   onOpen(), onClose(), onRunning(running), announce(text).
   *   onOpenItem(item): show a done item in the single-photo view (review);
   *   onReviewEnd(): the batch shows again.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.el = {
      panel: $('batch'),
      list: $('batch-list'),
      summary: $('batch-summary'),
      progress: $('batch-progress'),
      stop: $('batch-stop'),
      rerun: $('batch-rerun'),
      downloadAll: $('download-all'),
      close: $('batch-close'),
    };
    this.items = [];
    this.running = false;
    this.stopping = false;
    this.nextId = 1;
    this.isOpen = false;
    this.reviewing = null; // the item open in the single-photo view
    this.unsaved = false; // a result changed since the last ZIP download
    this.finished = Promise.resolve(); // the current run's end
    this.el.stop.addEventListener('click', () => this.stop());
    this.el.rerun.addEventListener('click', () => this.#continueOrRerun());
    this.el.downloadAll.addEventListener('click', () => this.downloadAll());
    this.el.close.addEventListener('click', () => this.close());
  }

  /** The batch exists (its panel may be hidden behind an item under review). */
  get open() {
    return this.isOpen;
  }

  /** Done items whose files are not in a downloaded ZIP yet (0: nothing to lose). */
  get unsavedCount() {
    return this.unsaved ? this.items.filter((item) => item.status === 'done').length : 0;
  }

  /** Start a batch with these files (or add them to the open one) and run it. */
  start(files) {
    if (!this.open) {
      this.#reset();
      this.isOpen = true;
      this.el.panel.hidden = false;
      this.hooks.onOpen?.();
    }
    for (const file of files) this.items.push(this.#makeItem(file));
    this.#sync();
    this.hooks.announce?.(`${files.length} ${files.length === 1 ? 'photo' : 'photos'} added to the batch.`);
    if (!this.running) this.#run();
    else if (this.stopping) this.restart = true; // the old run is winding down: go again after
  }

  stop() {
    if (!this.running) return;
    this.stopping = true;
    for (const item of this.items) if (item.status === 'processing') item.request?.cancel();
    this.#sync();
  }

  /** Close the batch, asking first while results would be lost. Resolves false if kept. */
  async close() {
    if (!this.open) return true;
    const count = this.unsavedCount;
    if (count) {
      const discard = await confirmDialog({
        title: `Discard ${count} ${count === 1 ? 'result' : 'results'}?`,
        text: `${count === 1 ? 'It has' : 'They have'} not been saved: “Download all” saves them as one ZIP.`,
      });
      if (!discard || !this.open) return false;
    }
    this.stop();
    this.#reset();
    this.isOpen = false;
    this.reviewing = null;
    this.el.panel.hidden = true;
    this.hooks.onClose?.();
    return true;
  }

  // ------------------------------------------------------------ review

  /** Show a done item in the single-photo view; a running batch stops first (the worker
   *  does one thing at a time), and Continue picks it up after. */
  async openItem(item) {
    if (item.status !== 'done' || this.reviewing) return;
    if (this.running) {
      this.stop();
      await this.finished;
    }
    if (!this.open || item.removed || item.status !== 'done') return;
    this.reviewing = item;
    this.el.panel.hidden = true;
    this.hooks.onOpenItem(item);
  }

  /** Back from review: `changed` (optional) is the item's file as it now is. */
  endReview(changed) {
    const item = this.reviewing;
    this.reviewing = null;
    if (!item || !this.open) return;
    if (changed && !item.removed) {
      if (item.resultUrl) URL.revokeObjectURL(item.resultUrl);
      Object.assign(item, changed);
      item.resultUrl = URL.createObjectURL(new Blob([changed.bytes], { type: changed.mime }));
      this.#setStatus(item, 'done'); // a new thumbnail and Save link
      this.hooks.announce?.(`Updated ${item.outputName} in the batch.`);
    }
    this.el.panel.hidden = false;
    this.hooks.onReviewEnd?.();
    item.open?.focus({ preventScroll: true });
    item.li?.scrollIntoView?.({ block: 'nearest' });
  }

  async downloadAll() {
    const done = this.items.filter((item) => item.status === 'done');
    if (!done.length) return;
    const names = uniqueNames(done.map((item) => item.outputName));
    const zip = makeZip(done.map((item, i) => ({ name: names[i], bytes: item.bytes })));
    saveBlob(zip, 'offcut-cutouts.zip');
    this.unsaved = false;
    this.hooks.announce?.(`Saved offcut-cutouts.zip with ${done.length} ${done.length === 1 ? 'image' : 'images'}.`);
  }

  // ------------------------------------------------------------ running

  #run() {
    this.finished = this.#runAll();
  }

  async #runAll() {
    this.running = true;
    this.stopping = false;
    this.hooks.onRunning?.(true);
    const settings = this.hooks.settings();
    this.#sync();
    for (;;) {
      const item = this.items.find((candidate) => candidate.status === 'queued');
      if (!item || this.stopping) break;
      this.#setStatus(item, 'processing');
      try {
        const result = await this.hooks.runItem(item.file, settings, item);
        if (item.removed) continue;
        item.bytes = result.bytes;
        item.outputName = settings.fileName(item.file.name);
        item.renderOptions = settings.renderOptions;
        item.refineEdges = settings.refineEdges;
        item.strokes = [];
        item.resultUrl = URL.createObjectURL(new Blob([result.bytes], { type: result.mime }));
        this.#setStatus(item, 'done');
      } catch (error) {
        if (item.removed) continue;
        if (error?.code === 'cancelled' && this.stopping) {
          this.#setStatus(item, 'queued'); // stopped by the user: it can run later
        } else {
          const described = describeError(error) || { text: 'This photo was not processed.' };
          item.message = described.text;
          this.#setStatus(item, 'failed');
        }
      } finally {
        item.request = null;
      }
    }
    this.running = false;
    this.stopping = false;
    if (this.restart) {
      this.restart = false;
      this.#run();
      await this.finished;
      return;
    }
    this.hooks.onRunning?.(false);
    this.#sync();
    const done = this.items.filter((item) => item.status === 'done').length;
    const failed = this.items.filter((item) => item.status === 'failed').length;
    if (this.open) {
      this.hooks.announce?.(failed ? `Batch finished: ${done} done, ${failed} failed.` : `Batch finished: ${done} done.`);
    }
  }

  #continueOrRerun() {
    if (this.running) return;
    if (!this.items.some((item) => item.status === 'queued')) {
      // Everything ran already: run it all again with the options as they are now.
      for (const item of this.items) {
        this.#forgetResult(item);
        item.message = '';
        this.#setStatus(item, 'queued');
      }
    }
    this.#run();
  }

  // ------------------------------------------------------------ the list

  #makeItem(file) {
    const item = { id: this.nextId++, file, status: 'queued', message: '', bytes: null, outputName: '' };
    const li = document.createElement('li');
    li.className = 'batch-item';
    li.dataset.status = 'queued';
    li.dataset.name = file.name;
    // The picture and name are one button (click, Enter, Space) that opens a done item; the
    // Save link beside it stays its own control.
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'batch-open';
    open.addEventListener('click', () => this.openItem(item));
    const thumb = document.createElement('span');
    thumb.className = 'batch-thumb';
    const image = document.createElement('img');
    image.alt = '';
    image.decoding = 'async';
    image.loading = 'lazy';
    item.sourceUrl = URL.createObjectURL(file);
    image.src = item.sourceUrl; // until its small render is ready (lazy: off screen, no decode)
    image.addEventListener('error', () => { image.hidden = true; });
    image.addEventListener('load', () => { image.hidden = false; });
    this.#showThumb(item, file, 'sourceThumb');
    thumb.append(image);
    const text = document.createElement('span');
    text.className = 'batch-text';
    const name = document.createElement('span');
    name.className = 'batch-name';
    name.textContent = file.webkitRelativePath || file.name || 'image';
    name.title = name.textContent;
    const status = document.createElement('span');
    status.className = 'batch-status';
    text.append(name, status);
    const save = document.createElement('a');
    save.className = 'batch-save text-button';
    save.hidden = true;
    save.textContent = 'Save';
    open.append(thumb, text);
    li.append(open, save);
    this.el.list.append(li);
    Object.assign(item, { li, open, image, status: 'queued', statusText: status, save });
    this.#setStatus(item, 'queued');
    return item;
  }

  #setStatus(item, status) {
    item.status = status;
    item.li.dataset.status = status;
    item.statusText.textContent = status === 'failed' && item.message ? item.message : STATUS_TEXT[status];
    const name = item.file.webkitRelativePath || item.file.name || 'image';
    item.open.disabled = status !== 'done';
    item.open.title = status === 'done' ? 'Open to check it or touch it up' : '';
    // Until it is done, its name and status are what the row says (a failure's reason too).
    if (status === 'done') item.open.setAttribute('aria-label', `Open ${name}`);
    else item.open.removeAttribute('aria-label');
    if (status === 'done') {
      this.unsaved = true;
      this.#showThumb(item, new Blob([item.bytes]), 'resultThumb');
      item.li.querySelector('.batch-thumb').classList.add('checkered-static');
      item.save.hidden = false;
      item.save.href = item.resultUrl;
      item.save.download = item.outputName;
      item.save.setAttribute('aria-label', `Save ${item.outputName}`);
    } else {
      item.save.hidden = true;
    }
    if (status === 'processing') item.li.scrollIntoView?.({ block: 'nearest' });
    this.#sync();
  }

  /** Put a small render of `blob` in the item's row once made (`slot` keeps its URL). */
  async #showThumb(item, blob, slot) {
    const token = (item.thumbToken = (item.thumbToken || 0) + 1);
    const url = await thumbnail(blob);
    if (!url) return;
    if (item.removed || item.thumbToken !== token) {
      URL.revokeObjectURL(url);
      return;
    }
    if (item[slot]) URL.revokeObjectURL(item[slot]);
    item[slot] = url;
    item.image.src = url;
  }

  #forgetResult(item) {
    if (item.resultUrl) URL.revokeObjectURL(item.resultUrl);
    if (item.resultThumb) URL.revokeObjectURL(item.resultThumb);
    item.resultUrl = item.resultThumb = null;
    item.bytes = null;
    item.thumbToken = (item.thumbToken || 0) + 1; // a result thumbnail still coming is dropped
    item.image.src = item.sourceThumb || item.sourceUrl;
    item.image.hidden = false;
    item.li.querySelector('.batch-thumb').classList.remove('checkered-static');
  }

  #reset() {
    for (const item of this.items) {
      item.removed = true;
      this.#forgetResult(item);
      URL.revokeObjectURL(item.sourceUrl);
      if (item.sourceThumb) URL.revokeObjectURL(item.sourceThumb);
    }
    this.items = [];
    this.unsaved = false;
    this.el.list.replaceChildren();
    this.#sync();
  }

  #sync() {
    const count = (status) => this.items.filter((item) => item.status === status).length;
    const total = this.items.length;
    const done = count('done');
    const failed = count('failed');
    const queued = count('queued');
    const finished = done + failed;
    let summary = `${finished} of ${total} finished`;
    if (failed) summary += ` (${failed} failed)`;
    if (this.stopping) summary += ', stopping…';
    else if (!this.running && queued && total) summary += ', stopped';
    this.el.summary.textContent = total ? summary : '';
    this.el.progress.max = Math.max(1, total);
    this.el.progress.value = finished;
    this.el.stop.hidden = !this.running;
    this.el.rerun.hidden = this.running || !total;
    this.el.rerun.textContent = queued ? 'Continue' : 'Run again';
    this.el.rerun.title = queued ? 'Process the photos still waiting' : 'Process every photo again with the options as they are now';
    this.el.downloadAll.disabled = !done;
    this.el.downloadAll.textContent = done ? `Download all (${done}, ZIP)` : 'Download all';
    this.el.panel.dataset.running = String(this.running);
  }
}
