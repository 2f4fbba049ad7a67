// The only way the UI talks to the worker: request ids, progress callbacks, cancellation,
// and ArrayBuffers passed as transferables (moved, not copied).
//
// Every call returns a Request: a promise-like object with `.id` and `.cancel()`.
// It resolves with the worker's result, or rejects with an OffcutError {code, message, details}.
// Progress callbacks all have one signature: (stage, done, total).

export class OffcutError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'OffcutError';
    this.code = code;
    this.details = details;
  }
}

export class OffcutWorker {
  constructor(url = new URL('./worker.js', import.meta.url)) {
    this.worker = new Worker(url, { type: 'module', name: 'offcut' });
    this.pending = new Map();
    this.nextId = 1;
    /** Called with {code, message, details} for non-fatal notices (fallbacks, cache problems). */
    this.onWarning = () => {};
    this.worker.onmessage = (event) => this.#receive(event.data);
    this.worker.onerror = (event) => {
      const error = new OffcutError('worker-crashed', event.message || 'worker failed to start');
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    };
  }

  #receive(message) {
    if (message.type === 'warning') {
      this.onWarning(message);
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return; // cancelled or unknown: drop it
    if (message.type === 'progress') {
      entry.onProgress(message.stage, message.done, message.total);
    } else if (message.type === 'result') {
      this.pending.delete(message.id);
      entry.resolve(message.result);
    } else if (message.type === 'error') {
      this.pending.delete(message.id);
      entry.reject(new OffcutError(message.code, message.message, message.details || {}));
    }
  }

  #call(type, payload, onProgress, transfer = []) {
    const id = this.nextId++;
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    this.pending.set(id, { resolve, reject, onProgress: onProgress || (() => {}) });
    this.worker.postMessage({ id, type, payload }, transfer);
    promise.id = id;
    promise.cancel = () => {
      if (!this.pending.has(id)) return;
      this.worker.postMessage({ id: this.nextId++, type: 'cancel', payload: { target: id } });
      this.pending.get(id).reject(new OffcutError('cancelled', 'cancelled by the user'));
      this.pending.delete(id);
    };
    return promise;
  }

  /** Boot Pyodide + onnxruntime-web and load a model.
   *  options.backend: 'auto' (default: WebGPU when an adapter exists) | 'webgpu' | 'wasm'.
   *  Resolves {models, modelId, backend: 'webgpu'|'wasm', threads, cached, timings}. */
  init(modelId, onProgress, options = {}) {
    return this.#call('init', { modelId, ...options }, onProgress);
  }

  /** Switch model (download/verify/cache as needed). Resolves like init. */
  setModel(modelId, onProgress) {
    return this.#call('set-model', { modelId }, onProgress);
  }

  /** Cut out one image. `bytes` (ArrayBuffer) is transferred: the caller's copy is detached.
   *  options: {name, refineEdges, preview: preview()'s payload or absent}. Resolves {width,
   *  height, info, preview: preview()'s result or null, timings, backend}. The worker keeps
   *  this cutout for preview() and render(). */
  process(bytes, options, onProgress) {
    return this.#call('process', { bytes, ...options }, onProgress, [bytes]);
  }

  /** Render the last cutout as render() would, at screen resolution, for the live view.
   *  payload: {options (as render's), maxSide: px, backgroundPhoto: ArrayBuffer (copied),
   *  knownBefore: the beforeKey already shown}. Resolves {after: Blob (PNG), before: Blob|null
   *  (null when knownBefore still holds), beforeKey, width, height (the preview's pixels),
   *  outWidth, outHeight (the file's), seconds}. */
  preview(payload) {
    return this.#call('preview', payload);
  }

  /** Render the last cutout. options (all optional; see offcut.pipeline.ExportOptions):
   *  background: null|'#rrggbb'|'blur'|'photo', backgroundPhoto: ArrayBuffer (copied),
   *  format: 'png'|'jpeg'|'webp', quality: 1-100, shadow: {opacity, blur, offset: [x, y]},
   *  crop: bool, margin: '5%'|'40px', preset: 'marketplace'|'social'|'passport'|'custom',
   *  canvas: [w, h], fill: 0-1, max_size: px, mask: bool, strokes: [{mode, radius, softness,
   *  points}]. Resolves {bytes: ArrayBuffer, mime, format}. */
  render(options, onProgress) {
    return this.#call('render', options, onProgress);
  }

  terminate() {
    this.worker.terminate();
  }
}
