// What worker.js and its two hosts (python-host.js, model-host.js) share about the page's
// requests: the error the page is sent, the messages to the page, and cancellation. A cancel
// arrives while another request runs; it is only seen where that request checks for it.

import { StoreError } from './model-store.js';

/** An error the page gets as {code, message, details} (codes: see messages.js). */
export class WorkerError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export const post = (message, transfer = []) => self.postMessage(message, transfer);
/** A non-fatal notice for the page (a fallback, a cache problem). */
export const warn = (code, message, details = {}) => post({ type: 'warning', code, message, details });
export const seconds = (t0) => (performance.now() - t0) / 1000;

const cancelled = new Set(); // ids of requests the page cancelled
/** request id -> AbortController of its download (a model load). */
export const controllers = new Map();
const cancelWaiters = new Map(); // request id -> reject: a request waiting for a model load

/** The page cancelled request `id`: a download stops, a wait ends, a stage boundary throws. */
export function cancel(id) {
  cancelled.add(id);
  controllers.get(id)?.abort();
  cancelWaiters.get(id)?.();
}

/** Request `id` has ended: its cancel, if any, is forgotten. */
export function settled(id) {
  cancelled.delete(id);
}

export function checkCancelled(id) {
  if (cancelled.has(id)) throw new WorkerError('cancelled', 'cancelled');
}

/** A promise that rejects when request `id` is cancelled (only while it waits: see
 *  model-host.js waitForModel); `stopWaiting(id)` once the wait is over. */
export function untilCancelled(id) {
  return new Promise((_, reject) => {
    cancelWaiters.set(id, () => reject(new WorkerError('cancelled', 'cancelled')));
  });
}

export function stopWaiting(id) {
  cancelWaiters.delete(id);
}

/** Any error -> what the page is sent. */
export function describe(error) {
  if (error instanceof WorkerError || error instanceof StoreError) {
    return { code: error.code, message: error.message, details: error.details };
  }
  if (error && error.name === 'AbortError') return { code: 'cancelled', message: 'cancelled', details: {} };
  const text = String((error && error.message) || error);
  const code = /memory|allocation/i.test(text) ? 'out-of-memory' : 'internal';
  return { code, message: text, details: {} };
}
