// The error panel (one at a time, with an optional Retry) and the list of warnings.
// Words come from messages.js; technical text only ever appears inside a closed <details>.

import { describeError, describeWarning } from '../messages.js';

export class Notices {
  constructor({ onRetry, onDismiss }) {
    this.panel = document.getElementById('error');
    this.text = document.getElementById('error-text');
    this.details = document.getElementById('error-details');
    this.technical = document.getElementById('error-technical');
    this.retry = document.getElementById('retry');
    this.warnings = document.getElementById('warnings');
    this.shownWarnings = new Set();
    this.retry.addEventListener('click', () => {
      this.clearError();
      onRetry();
    });
    document.getElementById('error-dismiss').addEventListener('click', () => {
      this.clearError();
      onDismiss?.();
    });
  }

  /** Show an error; returns false (and shows nothing) for silent codes such as 'cancelled'. */
  showError(error, { canRetry = true } = {}) {
    const described = describeError(error);
    if (!described) return false;
    this.text.textContent = described.text;
    this.technical.textContent = described.technical || '';
    this.details.hidden = !described.technical;
    this.details.open = false;
    this.retry.hidden = !(described.retry && canRetry);
    this.retry.textContent = described.retryLabel || 'Retry';
    this.panel.hidden = false;
    return true;
  }

  clearError() {
    this.panel.hidden = true;
  }

  get hasError() {
    return !this.panel.hidden;
  }

  /** Add a warning once per code (a second "storage full" adds nothing new). */
  warn(warning) {
    const key = warning.code || warning.message;
    if (this.shownWarnings.has(key)) return;
    this.shownWarnings.add(key);
    const { text, technical } = describeWarning(warning);
    const item = document.createElement('li');
    item.className = 'warning';
    item.dataset.code = warning.code || '';
    const message = document.createElement('p');
    message.textContent = text;
    item.append(message);
    if (technical) {
      const more = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = 'Technical details';
      const code = document.createElement('code');
      code.textContent = technical;
      more.append(summary, code);
      item.append(more);
    }
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'warning-close';
    close.setAttribute('aria-label', 'Dismiss this note');
    close.textContent = '×';
    close.addEventListener('click', () => {
      item.remove();
      this.shownWarnings.delete(key);
    });
    item.append(close);
    this.warnings.append(item);
  }

  /** Drop warnings that were about the previous image (animation, multiple files...). */
  clearWarnings(codes) {
    for (const item of [...this.warnings.children]) {
      if (codes.includes(item.dataset.code)) {
        item.remove();
        this.shownWarnings.delete(item.dataset.code);
      }
    }
  }
}
