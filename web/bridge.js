// The only way the UI talks to the worker: request ids, progress callbacks, cancellation,
// and ArrayBuffers passed as transferables (moved, not copied).
//
// Every call returns a Request: a promise-like object with `.id` and `.cancel()`.
// It resolves with the worker's result, or rejects with an OffcutError {code, message, details}.
// Progress callbacks all have one signature: (stage, done, total).
// Cancel takes effect at once: the request rejects with code 'cancelled', and a long request
// that is already running is stopped by replacing the worker (see RESTART_ON_CANCEL) with a
// spare one booted beforehand (see #warmSpare).

export class OffcutError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'OffcutError';
    this.code = code;
    this.details = details;
  }
}

// Requests that can hold the worker for many seconds on a big image (a 50 MP decode, the
// model, a full-size encode). Python and the model cannot be interrupted mid-step, so
// cancelling one of these while it runs replaces the worker; anything else is skipped by the
// worker itself (a queued request, a download it can abort, a short preview render).
const RESTART_ON_CANCEL = new Set(['process', 'render', 'refinish']);
// ...unless the worker said it is only waiting for a model download (model-host.js waitForModel):
// then it handles the cancel itself, and the download goes on.
const WAITING_STAGES = new Set(['model-wait', 'model-queued', 'model-download', 'model-verify']);
// A failed WebGPU backend is not tried again by a restarted worker.
const WEBGPU_GAVE_UP = new Set(['webgpu-failed', 'webgpu-slow']);

// How long the page must stay quiet before a spare worker boots (see #scheduleSpare).
const SPARE_QUIET_MS = 3000;

export class OffcutWorker {
  constructor(url = new URL('./worker.js', import.meta.url)) {
    this.url = url;
    this.pending = new Map(); // id -> {resolve, reject, onProgress, type}
    this.nextId = 1;
    this.boot = null; // init's payload (model as loaded now): what a restarted worker replays
    this.restarts = 0;
    this.spare = null; // an engine booting or booted with this.boot, for the next restart
    // The spare boots with the smallest model (by download size, init's smallestModelId): a
    // spare with "Best" held IS-Net twice (450 MiB more at rest here, 24 MP photos).
    // Pyodide's boot is the slow part of a restart; the chosen model loads at the takeover.
    this.spareModelId = null;
    this.spareWanted = false; // set by the first photo: a page never used boots no spare
    /** Called with {code, message, details} for non-fatal notices (fallbacks, cache problems). */
    this.onWarning = () => {};
    /** Called with an OffcutError when the worker dies (or a restarted one cannot start). */
    this.onCrash = () => {};
    /** Called (synchronously) when a cancel replaced the worker: what it held (the last
     *  cutout) is gone, and the new one is booting with the same model. */
    this.onRestart = () => {};
    /** Called with 'booting' | 'ready' | null as the spare engine comes and goes. */
    this.onSpare = () => {};
    this.engine = this.#spawn();
  }

  get worker() {
    return this.engine.worker;
  }

  /** A worker and the ids sent to it without a reply yet (unanswered[0] is running). */
  #spawn() {
    const worker = new Worker(this.url, { type: 'module', name: 'offcut' });
    const engine = { worker, unanswered: [], ready: false };
    // A replaced worker may still be delivering messages: only the current one and the
    // spare count.
    worker.onmessage = (event) => {
      if (this.engine === engine || this.spare === engine) this.#receive(engine, event.data);
    };
    worker.onerror = (event) => {
      if (this.spare === engine) this.#dropSpare();
      if (this.engine !== engine) return;
      this.#failAll(new OffcutError('worker-crashed', event.message || 'worker failed to start'));
    };
    return engine;
  }

  #failAll(error) {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.reject(error);
    this.onCrash(error);
  }

  #receive(engine, message) {
    if (message.type === 'warning') {
      if (engine !== this.engine) return; // the spare's own fallbacks are not the page's
      if (WEBGPU_GAVE_UP.has(message.code) && this.boot) this.#backendIsWasm();
      this.onWarning(message);
      return;
    }
    // Only a result or an error ends a request: after a first look ('partial') its model is
    // still running, so a cancel must still replace the worker, and no spare may boot yet.
    if (message.type === 'result' || message.type === 'error') {
      const at = engine.unanswered.indexOf(message.id);
      if (at >= 0) engine.unanswered.splice(at, 1);
    }
    const entry = this.pending.get(message.id);
    if (entry) {
      if (message.type === 'progress') {
        entry.stage = message.stage;
        entry.onProgress(message.stage, message.done, message.total);
      } else if (message.type === 'partial') {
        entry.onPartial(message.result);
      } else if (message.type === 'result') {
        this.pending.delete(message.id);
        entry.resolve(message.result);
      } else if (message.type === 'error') {
        this.pending.delete(message.id);
        entry.reject(new OffcutError(message.code, message.message, message.details || {}));
        if (message.code === 'webgpu-slow') this.#gaveUpOnWebgpu(message);
      }
    }
    // The current worker has nothing left to do: the spare boots once the page stays quiet,
    // not during a job.
    if (engine === this.engine && !engine.unanswered.length) this.#scheduleSpare();
  }

  /** A spare started on WebGPU is no use once the page has given WebGPU up. */
  #backendIsWasm() {
    this.boot.backend = 'wasm';
    if (this.spare && this.spare.backend !== 'wasm') this.#dropSpare();
  }

  /** The first WebGPU run passed its deadline and is still running in the worker: a WASM
   *  worker replaces it (the caller runs the image again), and the UI is told, to remember. */
  #gaveUpOnWebgpu(message) {
    if (this.boot) this.#backendIsWasm();
    this.onWarning({ type: 'warning', code: 'webgpu-slow', message: message.message, details: message.details || {} });
    this.#restart();
  }

  #call(type, payload, onProgress, transfer = [], engine = this.engine, onPartial = null) {
    clearTimeout(this.spareTimer); // busy again: a spare would compete with this request
    const id = this.nextId++;
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    this.pending.set(id, {
      resolve,
      reject,
      type,
      stage: null,
      onProgress: onProgress || (() => {}),
      onPartial: onPartial || (() => {}),
    });
    engine.unanswered.push(id);
    engine.worker.postMessage({ id, type, payload }, transfer);
    promise.id = id;
    promise.cancel = () => this.#cancel(id);
    return promise;
  }

  #cancel(id) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.reject(new OffcutError('cancelled', 'cancelled by the user'));
    const busy = RESTART_ON_CANCEL.has(entry.type) && !WAITING_STAGES.has(entry.stage);
    if (this.engine.unanswered[0] === id && busy && this.boot) {
      this.#restart();
    } else {
      this.worker.postMessage({ id: this.nextId++, type: 'cancel', payload: { target: id } });
    }
  }

  /** Boot a worker with the current model, while this one is idle, so that a cancel can hand
   *  the next request to it at once: Pyodide's boot (seconds to tens of seconds) is the slow
   *  part of a restart. One at most (a second Pyodide heap: README, Cancel). */
  /** A spare's boot takes both cores for seconds: wait until the page has been quiet for
   *  SPARE_QUIET_MS, so that a user who goes on at once (an option change, the next photo)
   *  is not slowed by it. */
  #scheduleSpare() {
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => this.#warmSpare(), SPARE_QUIET_MS);
  }

  #warmSpare() {
    if (this.spare || !this.spareWanted || !this.boot || !this.engine.ready) return;
    const spare = this.#spawn();
    spare.backend = this.boot.backend;
    spare.modelId = this.spareModelId || this.boot.modelId;
    this.spare = spare;
    this.onSpare('booting');
    this.#boot(spare, () => {
      if (this.spare === spare) this.onSpare('ready');
    }, { modelId: spare.modelId });
  }

  #dropSpare() {
    const spare = this.spare;
    if (!spare) return;
    this.spare = null;
    spare.worker.terminate();
    for (const id of spare.unanswered) this.pending.delete(id);
    this.onSpare(null);
  }

  /** Send init to `engine` with the page's boot payload. Its progress goes to the request
   *  waiting behind it once it is the current worker; so does its failure. */
  #boot(engine, onReady = () => {}, overrides = {}) {
    const forward = (stage, done, total) => {
      if (this.engine === engine) this.pending.get(engine.unanswered[1])?.onProgress(stage, done, total);
    };
    const request = this.#call('init', { ...this.boot, ...overrides }, forward, [], engine);
    request.then(
      (result) => {
        engine.ready = true;
        engine.modelId = result.modelId;
        if (this.engine === engine) this.boot.modelId = result.modelId;
        onReady();
      },
      (error) => {
        if (this.spare === engine) this.#dropSpare();
        if (this.engine !== engine || error.code === 'cancelled') return;
        this.#failAll(new OffcutError('worker-crashed', `the engine did not restart: ${error.message}`,
          { code: error.code }));
      },
    );
  }

  /** Replace a busy worker: the spare takes over (booted, or at least booting, with the same
   *  model), else a fresh one boots (a few seconds, while the user picks the next image). */
  #restart() {
    this.worker.terminate();
    // Requests still queued in the old worker cannot be replayed: their bytes were moved
    // there and the cutout they would use is gone.
    for (const id of this.engine.unanswered) {
      const entry = this.pending.get(id);
      if (!entry) continue;
      this.pending.delete(id);
      entry.reject(new OffcutError('cancelled', 'the engine restarted'));
    }
    const spare = this.spare;
    this.spare = null;
    if (spare) {
      this.engine = spare;
      this.onSpare(null);
      // The page switched models since the spare started: it loads this one next (queued
      // behind its boot if that is still running).
      if (spare.modelId !== this.boot.modelId) {
        const modelId = this.boot.modelId;
        this.#call('set-model', { modelId }, null).then(
          (result) => { if (this.engine === spare) this.boot.modelId = result.modelId; },
          () => {},
        );
      }
    } else {
      this.engine = this.#spawn();
      this.#boot(this.engine);
    }
    this.restarts += 1;
    this.onRestart();
  }

  /** Boot Pyodide + onnxruntime-web and load a model.
   *  options.backend: 'auto' (default: WebGPU on a hardware adapter) | 'webgpu' (any adapter,
   *  software too) | 'wasm'. options.webgpuDeadline: seconds the first automatic WebGPU run
   *  may take (default: from the model's WASM cost); past it, the process request rejects
   *  with 'webgpu-slow' and the worker is replaced by a WASM one.
   *  Resolves {models, modelId, backend: 'webgpu'|'wasm', threads, cached, timings}. */
  init(modelId, onProgress, options = {}) {
    this.boot = { modelId, ...options };
    const engine = this.engine;
    const request = this.#call('init', this.boot, onProgress);
    request.then((result) => {
      this.boot.modelId = result.modelId;
      engine.ready = true;
      this.spareModelId = result.smallestModelId || null;
    }, () => {});
    return request;
  }

  /** Switch model (download/verify/cache as needed). Resolves like init. */
  setModel(modelId, onProgress) {
    const request = this.#call('set-model', { modelId }, onProgress);
    request.then((result) => { if (this.boot) this.boot.modelId = result.modelId; }, () => {});
    return request;
  }

  /** Cut out one image. `bytes` (ArrayBuffer) is transferred: the caller's copy is detached.
   *  options: {name, refineEdges, preview: preview()'s payload or absent, quick: bool}.
   *  Resolves {width, height, info, preview: preview()'s result or null, timings, backend}.
   *  The worker keeps this cutout for preview() and render().
   *  May be sent before init resolves: the worker waits for the model it is loading.
   *  With `quick` and a preview, when the page's model is not the smallest one,
   *  `onPartial({modelId, finalModelId, preview, seconds})` first gets the smallest model's
   *  look at the photo (screen size only, nothing to download), while the chosen model runs
   *  or still downloads. */
  process(bytes, options, onProgress, onPartial) {
    this.spareWanted = true;
    return this.#call('process', { bytes, ...options }, onProgress, [bytes], this.engine, onPartial);
  }

  /** Render the last cutout as render() would, at screen resolution, for the live view.
   *  payload: {options (as render's), maxSide: px, backgroundPhoto: ArrayBuffer (copied),
   *  knownBefore: the beforeKey already shown, withBefore: false to leave the before out}.
   *  Resolves {after: Blob (PNG), before: Blob|null (null when knownBefore still holds or
   *  withBefore is false), beforeKey, width, height (the preview's pixels), outWidth,
   *  outHeight (the file's), seconds}. */
  preview(payload) {
    return this.#call('preview', payload);
  }

  /** Only the original through the view's crop and canvas, for a view shown without it
   *  (preview's `withBefore: false`). payload: {options, maxSide}. Resolves {before: Blob
   *  (PNG), beforeKey, width, height, seconds}. */
  before(payload) {
    return this.#call('before', payload);
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

  /** Make the last cutout again with edge refinement on or off, from the model output the
   *  worker keeps: no model run. Resolves {width, height, timings}. */
  refinish(refineEdges, onProgress) {
    return this.#call('refinish', { refineEdges }, onProgress);
  }

  terminate() {
    this.#dropSpare();
    this.worker.terminate();
  }
}
