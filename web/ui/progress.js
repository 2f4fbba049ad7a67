// The progress card: what stage is running, how far along it is, and a Cancel button.
// Per-byte download updates only touch the bar and the "3.1 / 4.6 MB" text; the aria-live
// status line is told about stage changes only, so screen readers are not flooded.
//
// A stage that reports no numbers (the model run, the engine's start) shows its seconds, and
// where its last run here is known, a bar that fills with time. A timer moves them a few
// times a second; nothing animates: an endless animation draws 60 frames a second on the
// cores the model needs (even a compositor-only band cost IS-Net 7 % of its time on 2 cores).

import { busyDetail, bytesProgress, stageLabel } from '../messages.js';

const TICK_MS = 250;

export class ProgressCard {
  /** `announce(text)` is called once per stage change (for the live status line). */
  constructor({ announce, onCancel }) {
    this.announce = announce;
    this.card = document.getElementById('progress');
    this.stage = document.getElementById('progress-stage');
    this.detail = document.getElementById('progress-detail');
    this.bar = document.getElementById('progress-bar');
    this.cancel = document.getElementById('cancel');
    this.cancel.addEventListener('click', () => onCancel());
    this.lastStage = null;
    this.expected = new Map(); // "stage|model label" -> seconds its last run took
    this.busy = null; // {key, since, expected} of the stage without numbers shown now
    this.timer = null;
  }

  /** Seconds a stage without numbers took on its last run with the model called `label`: its
   *  next run shows a bar that fills with time. */
  expect(stage, label, seconds) {
    if (Number.isFinite(seconds) && seconds > 0) this.expected.set(`${stage}|${label}`, seconds);
  }

  /** Show the card. `cancellable` shows the Cancel button; `modelLabel` names downloads. */
  start(text, { cancellable = false, modelLabel = '' } = {}) {
    this.modelLabel = modelLabel;
    this.lastStage = null;
    this.startedAt = performance.now();
    this.stage.textContent = text;
    this.detail.textContent = '';
    this.#busy(null); // no numbers until a stage reports some
    this.cancel.hidden = !cancellable;
    this.card.hidden = false;
    this.announce(text);
  }

  /** The bridge's progress callback: (stage, done, total). */
  update(stage, done, total) {
    const text = stageLabel(stage, this.modelLabel);
    if (stage !== this.lastStage) {
      this.lastStage = stage;
      this.stage.textContent = text;
      this.announce(text);
    }
    // A "0 of 1" stage has no measurable progress: show it as busy, not as an empty bar.
    if (total <= 1 && stage !== 'model-download') {
      if (done < total || !this.busy) this.#busy(done < total ? stage : null);
      return;
    }
    this.#stopClock();
    if (total > 1) {
      this.bar.max = total;
      this.bar.value = Math.min(done, total);
    } else {
      this.bar.removeAttribute('value'); // a download of unknown size
    }
    this.detail.textContent = stage === 'model-download' ? bytesProgress(done, total)
      : `${Math.round((100 * Math.min(done, total)) / total)}%`;
  }

  /** Show `stage` (or, for null, whatever runs now) as busy. */
  #busy(stage) {
    const key = `${stage}|${this.modelLabel}`;
    if (this.busy && this.busy.key === key) return;
    this.#stopClock();
    const expected = this.expected.get(key) || 0;
    // Without an expected time, the seconds are the whole wait's, not this stage's.
    this.busy = { key, since: expected ? performance.now() : this.startedAt, expected };
    this.#tick();
    this.timer = setInterval(() => this.#tick(), TICK_MS);
  }

  #tick() {
    const { since, expected } = this.busy;
    const elapsed = (performance.now() - since) / 1000;
    if (expected) {
      // 95 % at the expected time, then a slow creep: never full before the stage is done.
      const share = elapsed < expected ? (0.95 * elapsed) / expected
        : 0.95 + 0.04 * (1 - Math.exp((expected - elapsed) / expected));
      this.bar.max = 1;
      this.bar.value = share;
    } else {
      this.bar.removeAttribute('value');
    }
    this.detail.textContent = busyDetail(elapsed, expected);
  }

  #stopClock() {
    clearInterval(this.timer);
    this.timer = null;
    this.busy = null;
  }

  stop() {
    this.#stopClock();
    // Hiding a focused Cancel button would drop keyboard focus to <body>; keep it nearby.
    if (this.card.contains(document.activeElement)) document.getElementById('workspace').focus();
    this.card.hidden = true;
    this.cancel.hidden = true;
    this.lastStage = null;
  }
}
