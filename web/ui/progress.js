// The progress card: what stage is running, how far along it is, and a Cancel button.
// Per-byte download updates only touch the bar and the "3.1 / 4.6 MB" text; the aria-live
// status line is told about stage changes only, so screen readers are not flooded.

import { bytesProgress, stageLabel } from '../messages.js';

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
  }

  /** Show the card. `cancellable` shows the Cancel button; `modelLabel` names downloads. */
  start(text, { cancellable = false, modelLabel = '' } = {}) {
    this.modelLabel = modelLabel;
    this.lastStage = null;
    this.stage.textContent = text;
    this.detail.textContent = '';
    this.bar.removeAttribute('value'); // indeterminate until a stage reports numbers
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
    if (total > 1) {
      this.bar.max = total;
      this.bar.value = Math.min(done, total);
    } else {
      this.bar.removeAttribute('value');
    }
    if (stage === 'model-download') {
      this.detail.textContent = bytesProgress(done, total);
    } else if (total > 1) {
      this.detail.textContent = `${Math.round((100 * Math.min(done, total)) / total)}%`;
    } else {
      this.detail.textContent = '';
    }
  }

  stop() {
    // Hiding a focused Cancel button would drop keyboard focus to <body>; keep it nearby.
    if (this.card.contains(document.activeElement)) document.getElementById('workspace').focus();
    this.card.hidden = true;
    this.cancel.hidden = true;
    this.lastStage = null;
  }
}
