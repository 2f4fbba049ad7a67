// Before/after compare view with zoom and pan.
//
// The original and the cutout are stacked at the image's natural pixel size inside one
// "canvas" element, and the whole stack is moved with a single CSS transform
// (translate + scale), so both layers always line up exactly.
// The divider lives outside the transform, in viewport space, so it stays where the user put
// it while they zoom and pan; the original's clip is recomputed in image pixels from it.
//
// With a touch-up brush active (`brush`, see touchup.js), one pointer paints instead of
// panning, and the whole view shows the cutout; two fingers still pinch and pan.

const MIN_SCALE = 0.02;
const MAX_SCALE = 32;
const STEP = 1.25; // one button press or key press
const PIXELATED_ABOVE = 2; // 200%: show real pixels so edges can be inspected
const CHECKER_PX = 12; // checkerboard square size on screen, whatever the zoom

export class CompareViewer {
  constructor({ onZoom, onOriginalMissing } = {}) {
    this.onZoom = onZoom || (() => {});
    this.onOriginalMissing = onOriginalMissing || (() => {});
    this.viewport = document.getElementById('viewer');
    this.canvas = document.getElementById('viewer-canvas');
    this.before = document.getElementById('layer-before');
    this.original = document.getElementById('original-image');
    this.cutout = document.getElementById('cutout-image');
    this.backdrop = document.getElementById('backdrop-image');
    this.brush = null; // set by TouchUp: {active, begin, extend, end, abort, hover}
    this.divider = document.getElementById('compare-divider');
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    // Divider position as a fraction of the image's width (0: all cutout). In image space, so
    // zooming and panning move it with the picture: kept in the viewport, a zoom slid the
    // image's left edge past it and showed a strip of the uncut original.
    this.split = 0;
    this.onBrushing = () => {}; // the app re-renders the view for the brush's frame
    this.fitted = true; // keep fitting on resize until the user zooms
    this.pointers = new Map();
    // The images are the rendered file: transparent parts show the checkerboard behind.
    this.canvas.classList.add('checkered');
    this.#listen();
    new ResizeObserver(() => this.#onResize()).observe(this.viewport);
  }

  get hasImage() {
    return this.width > 0;
  }

  /**
   * Show a render of the file (`cutoutUrl`) and the original through the same crop and
   * canvas (`originalUrl`), at the file's size in pixels (`width` x `height`; the images may
   * be smaller, rendered for the screen). `keepView` keeps zoom, pan and divider when the
   * size is unchanged; otherwise the view is fitted. `leadWithCutout` (a new result) puts the
   * divider at the image's left edge, so the cutout is what shows first.
   */
  async show({ originalUrl, cutoutUrl, width, height }, { keepView = false, leadWithCutout = false } = {}) {
    const sameSize = width === this.width && height === this.height;
    this.width = width;
    this.height = height;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.viewport.classList.remove('no-original');
    if (this.original.getAttribute('src') !== originalUrl) this.original.src = originalUrl || '';
    if (this.cutout.getAttribute('src') !== cutoutUrl) this.cutout.src = cutoutUrl;
    if (!originalUrl) this.viewport.classList.add('no-original');
    if (!(keepView && sameSize)) this.fit();
    else this.#apply();
    if (leadWithCutout) this.setSplit(0);
  }

  /** Brush mode: the cutout fills the view (no compare split), a crosshair cursor. */
  setBrushing(on) {
    if (this.viewport.classList.contains('brushing') === on) return;
    this.viewport.classList.toggle('brushing', on);
    this.onBrushing(on);
  }

  /** The brush paints in photo pixels: only once the view shows the photo's own frame. */
  get #brushReady() {
    const brush = this.brush;
    return Boolean(brush?.active && brush.width === this.width && brush.height === this.height);
  }

  /** Viewport client coordinates -> image pixels. */
  toImage(clientX, clientY) {
    const rect = this.viewport.getBoundingClientRect();
    return { x: (clientX - rect.left - this.x) / this.scale, y: (clientY - rect.top - this.y) / this.scale };
  }

  /** The browser may not be able to show every original (e.g. TIFF): show the cutout alone. */
  hideOriginal() {
    this.viewport.classList.add('no-original');
  }

  fit() {
    if (!this.hasImage) return;
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    if (!vw || !vh) return;
    const scale = Math.min(vw / this.width, vh / this.height) * 0.98;
    this.scale = clamp(scale, MIN_SCALE, MAX_SCALE);
    this.x = (vw - this.width * this.scale) / 2;
    this.y = (vh - this.height * this.scale) / 2;
    this.fitted = true;
    this.#apply();
  }

  /** 100%: one image pixel per CSS pixel, centred on what is in the middle now. */
  actualSize() {
    this.zoomTo(1);
  }

  zoomIn() {
    this.zoomTo(this.scale * STEP);
  }

  zoomOut() {
    this.zoomTo(this.scale / STEP);
  }

  /** Zoom keeping the image point under (px, py) still; defaults to the viewport centre. */
  zoomTo(scale, px = this.viewport.clientWidth / 2, py = this.viewport.clientHeight / 2) {
    if (!this.hasImage) return;
    const next = clamp(scale, MIN_SCALE, MAX_SCALE);
    const ratio = next / this.scale;
    this.x = px - (px - this.x) * ratio;
    this.y = py - (py - this.y) * ratio;
    this.scale = next;
    this.fitted = false;
    this.#apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.fitted = false;
    this.#apply();
  }

  setSplit(fraction) {
    this.split = clamp(fraction, 0, 1);
    this.#apply();
  }

  #onResize() {
    if (!this.hasImage) return;
    if (this.fitted) this.fit();
    else this.#apply();
  }

  /** Keep the image from being lost off-screen: a small image stays inside the viewport,
   *  a large one always covers it. */
  #clampPan() {
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    const w = this.width * this.scale;
    const h = this.height * this.scale;
    this.x = w <= vw ? clamp(this.x, 0, vw - w) : clamp(this.x, vw - w, 0);
    this.y = h <= vh ? clamp(this.y, 0, vh - h) : clamp(this.y, vh - h, 0);
  }

  #apply() {
    this.#clampPan();
    const { canvas, scale } = this;
    canvas.style.transform = `translate(${this.x}px, ${this.y}px) scale(${scale})`;
    canvas.classList.toggle('pixelated', scale > PIXELATED_ABOVE);
    // Only an image larger than the view has anything to pan: then one finger moves it.
    // Otherwise a vertical swipe is left to the browser and scrolls the page (style.css).
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    this.viewport.classList.toggle('zoomed', this.width * scale > vw + 1 || this.height * scale > vh + 1);
    // Checker squares keep a constant on-screen size instead of growing with the zoom.
    canvas.style.setProperty('--checker-size', `${(CHECKER_PX * 2) / scale}px`);

    const imageX = this.split * this.width;
    const splitX = this.x + imageX * scale;
    this.before.style.clipPath = `inset(0 ${this.width - imageX}px 0 0)`;
    // Off-screen with its side of the image, the divider waits at the viewport's edge.
    this.divider.style.left = `${clamp(splitX, 0, vw)}px`;
    // A tag only over a side that shows (a few pixels of it do not count).
    const shownLeft = Math.max(this.x, 0);
    const shownRight = Math.min(this.x + this.width * scale, vw);
    this.viewport.classList.toggle('shows-original', clamp(splitX, shownLeft, shownRight) - shownLeft > 8);
    this.viewport.classList.toggle('shows-cutout', shownRight - clamp(splitX, shownLeft, shownRight) > 8);
    const percent = Math.round(this.split * 100);
    this.divider.setAttribute('aria-valuenow', String(percent));
    this.divider.setAttribute('aria-valuetext', `${percent}% original, ${100 - percent}% cutout`);
    this.onZoom(scale);
  }

  #listen() {
    const { viewport, divider } = this;

    viewport.addEventListener('wheel', (event) => {
      if (!this.hasImage) return;
      event.preventDefault(); // the wheel zooms the image, not the page
      const lines = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
      const factor = Math.exp(-event.deltaY * lines * 0.0015);
      const rect = viewport.getBoundingClientRect();
      this.zoomTo(this.scale * factor, event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });

    // One pointer map for every gesture. A pointer that starts on the divider drags it;
    // otherwise one pointer pans and two pinch-zoom. A second finger always means a pinch,
    // even if the first one landed on the divider, since pinching near the middle is common.
    viewport.addEventListener('pointerdown', (event) => {
      if (!this.hasImage) return;
      if (event.pointerType === 'mouse' && event.button !== 0) return;
      try {
        viewport.setPointerCapture(event.pointerId);
      } catch {
        // A synthetic pointer (tests, assistive tools) cannot be captured; it still works.
      }
      this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (this.pointers.size === 1) {
        const onDivider = event.target.closest('.divider') && !this.brush?.active;
        this.mode = onDivider ? 'divider' : this.#brushReady ? 'brush' : 'pan';
        // A finger on an image that fits has nothing to pan: the browser scrolls the page
        // with it (touch-action in style.css); a second finger still pinches.
        if (this.mode === 'pan' && event.pointerType === 'touch' && !this.viewport.classList.contains('zoomed')) {
          this.mode = null;
        }
        if (this.mode === 'divider') divider.focus({ preventScroll: true });
        if (this.mode === 'brush') this.brush.begin(this.toImage(event.clientX, event.clientY), this.scale);
      } else {
        if (this.mode === 'brush') this.brush.abort();
        this.mode = 'pinch';
      }
      this.gesture = null;
      viewport.classList.toggle('dragging', this.mode === 'pan' || this.mode === 'pinch');
      event.preventDefault(); // no text selection or native image drag
    });
    viewport.addEventListener('pointermove', (event) => {
      const rect = viewport.getBoundingClientRect();
      this.brush?.hover(event.clientX - rect.left, event.clientY - rect.top, event.pointerType !== 'touch');
      const last = this.pointers.get(event.pointerId);
      if (!last) return;
      const now = { x: event.clientX, y: event.clientY };
      this.pointers.set(event.pointerId, now);
      if (this.mode === 'brush') {
        // Fast strokes: the browser merges moves; take every one of them.
        const moves = event.getCoalescedEvents?.() || [];
        for (const move of moves.length ? moves : [event]) this.brush.extend(this.toImage(move.clientX, move.clientY));
      } else if (this.mode === 'divider') {
        this.setSplit((now.x - rect.left - this.x) / (this.width * this.scale || 1));
      } else if (this.mode === 'pan') {
        this.panBy(now.x - last.x, now.y - last.y);
      } else if (this.mode === 'pinch') {
        const [a, b] = [...this.pointers.values()];
        const mid = { x: (a.x + b.x) / 2 - rect.left, y: (a.y + b.y) / 2 - rect.top };
        const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
        if (this.gesture) {
          this.x += mid.x - this.gesture.mid.x; // move with the fingers...
          this.y += mid.y - this.gesture.mid.y;
          this.zoomTo(this.scale * (distance / this.gesture.distance), mid.x, mid.y); // ...and spread
        }
        this.gesture = { mid, distance };
      }
    });
    viewport.addEventListener('pointerleave', () => this.brush?.hover(0, 0, false));
    const release = (event) => {
      if (!this.pointers.delete(event.pointerId)) return;
      if (this.mode === 'brush') {
        if (event.type === 'pointercancel') this.brush.abort();
        else this.brush.end();
        this.mode = null;
        return;
      }
      this.gesture = null;
      // Lifting one finger of a pinch continues as a pan with the other, without a jump.
      this.mode = this.pointers.size ? 'pan' : null;
      if (!this.pointers.size) viewport.classList.remove('dragging');
    };
    viewport.addEventListener('pointerup', release);
    viewport.addEventListener('pointercancel', release);

    viewport.addEventListener('keydown', (event) => {
      if (event.target !== viewport || !this.hasImage) return;
      const step = event.shiftKey ? 200 : 50;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) {
        event.preventDefault();
        this.panBy(...moves[event.key]);
      }
    });

    // The divider is also a slider for the keyboard.
    divider.addEventListener('keydown', (event) => {
      const step = event.shiftKey ? 0.1 : 0.02;
      const keys = {
        ArrowLeft: this.split - step,
        ArrowDown: this.split - step,
        ArrowRight: this.split + step,
        ArrowUp: this.split + step,
        PageDown: this.split - 0.1,
        PageUp: this.split + 0.1,
        Home: 0,
        End: 1,
      };
      if (event.key in keys) {
        event.preventDefault();
        this.setSplit(keys[event.key]);
      }
    });

    this.original.addEventListener('error', () => {
      if (!this.original.getAttribute('src')) return;
      this.hideOriginal();
      this.onOriginalMissing();
    });
  }
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
