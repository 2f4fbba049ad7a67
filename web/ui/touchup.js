// Touch-up brush: restore or erase parts of the mask by painting on the cutout.
//
// Strokes are recorded in SOURCE-image pixels ({mode, radius, softness, points}, as
// offcut.touchup takes them) and sent with render(), so the edit is applied to the full
// resolution alpha on export. What the viewer shows is a close live preview painted on a
// canvas over the cutout: erase clears pixels, restore paints the original's pixels back.
// The brush size is set in screen pixels (it looks the same at any zoom) and converted to
// source pixels when a stroke starts.

const $ = (id) => document.getElementById(id);

export class TouchUp {
  /** @param {{viewer: CompareViewer, onChange: () => void, announce: (text) => void}} options */
  constructor({ viewer, onChange, announce }) {
    this.viewer = viewer;
    this.onChange = onChange || (() => {});
    this.announce = announce || (() => {});
    this.el = {
      bar: $('touchup-bar'),
      modes: [...document.querySelectorAll('input[name="brush"]')],
      size: $('brush-size'),
      softness: $('brush-softness'),
      undo: $('undo'),
      redo: $('redo'),
      canvas: $('touchup-canvas'),
      cutout: $('cutout-image'),
      original: $('original-image'),
      cursor: $('brush-cursor'),
      layer: document.querySelector('.layer-after'),
    };
    this.done = []; // committed strokes, oldest first
    this.undone = []; // for redo, most recently undone last
    this.current = null; // the stroke being painted
    this.width = 0;
    this.height = 0;
    this.base = null; // canvas: the preview with every committed stroke applied
    this.ready = null; // promise: base is drawn
    this.frame = 0;
    viewer.brush = this;
    this.#listen();
    this.#syncButtons();
  }

  /** Brush mode: 'off' (pan), 'restore' or 'erase'. */
  get mode() {
    return this.el.modes.find((input) => input.checked)?.value || 'off';
  }

  /** The viewer asks this before starting a gesture. */
  get active() {
    return this.mode !== 'off' && this.width > 0;
  }

  /** Committed strokes, for render(). */
  get strokes() {
    return this.done.map((stroke) => ({ ...stroke, points: stroke.points.map((p) => [...p]) }));
  }

  get edited() {
    return this.done.length > 0;
  }

  /**
   * A new cutout is on screen. `keep` (same photo, other options) keeps the strokes and
   * re-applies them to the new cutout; otherwise they are dropped.
   */
  setImage({ width, height }, { keep = false } = {}) {
    const sameSize = width === this.width && height === this.height;
    if (!(keep && sameSize)) {
      this.done = [];
      this.undone = [];
    }
    this.current = null;
    this.width = width;
    this.height = height;
    this.base = null;
    this.ready = null;
    this.el.canvas.width = width;
    this.el.canvas.height = height;
    this.#syncButtons();
    if (this.done.length) this.#rebuild();
    else this.#showCanvas(false);
  }

  clear() {
    this.width = 0;
    this.height = 0;
    this.done = [];
    this.undone = [];
    this.base = null;
    this.#showCanvas(false);
    this.#syncButtons();
  }

  setMode(mode) {
    const input = this.el.modes.find((item) => item.value === mode);
    if (input && !input.checked) {
      input.checked = true;
      this.#modeChanged();
    }
  }

  undo() {
    if (this.current || !this.done.length) return;
    this.undone.push(this.done.pop());
    this.#rebuild();
    this.#changed('Undid a brush stroke.');
  }

  redo() {
    if (this.current || !this.undone.length) return;
    const stroke = this.undone.pop();
    this.done.push(stroke);
    this.#ensureBase().then(() => {
      this.#paint(this.base.getContext('2d'), stroke, strokeBox(stroke, this.width, this.height));
      this.#copyBaseToScreen();
    });
    this.#changed('Redid a brush stroke.');
  }

  // ------------------------------------------------------------ gestures (from the viewer)

  begin(point, scale) {
    if (!this.active) return;
    const radius = Number(this.el.size.value) / 2 / Math.max(scale, 1e-6);
    this.current = {
      mode: this.mode,
      radius: round(Math.max(0.5, radius)),
      softness: Number(this.el.softness.value) / 100,
      points: [[round(point.x), round(point.y)]],
    };
    this.#ensureBase().then(() => this.#schedule());
  }

  extend(point) {
    const stroke = this.current;
    if (!stroke) return;
    const [lx, ly] = stroke.points[stroke.points.length - 1];
    // Points closer than a tenth of the radius add nothing visible; skip them.
    if (Math.hypot(point.x - lx, point.y - ly) < Math.max(0.5, stroke.radius / 10)) return;
    stroke.points.push([round(point.x), round(point.y)]);
    this.#schedule();
  }

  end() {
    const stroke = this.current;
    if (!stroke) return;
    this.#ensureBase().then(() => {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      const box = strokeBox(stroke, this.width, this.height);
      this.#drawLive(stroke, box);
      if (box) {
        const ctx = this.base.getContext('2d');
        ctx.clearRect(box.x, box.y, box.w, box.h);
        ctx.drawImage(this.el.canvas, box.x, box.y, box.w, box.h, box.x, box.y, box.w, box.h);
      }
      this.current = null;
    });
    this.done.push(stroke);
    this.undone = [];
    this.#changed(stroke.mode === 'erase' ? 'Erased.' : 'Restored.');
  }

  /** A second finger arrived (a pinch): the stroke was not meant, forget it. */
  abort() {
    if (!this.current) return;
    const stroke = this.current;
    this.current = null;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const box = strokeBox(stroke, this.width, this.height);
    if (box && this.base) this.#copyBaseToScreen(box);
    if (!this.done.length) this.#showCanvas(false);
  }

  /** Where the brush ring follows the pointer (viewport coordinates). */
  hover(x, y, inside) {
    const { cursor } = this.el;
    const show = inside && this.active;
    cursor.hidden = !show;
    if (!show) return;
    const size = Number(this.el.size.value);
    cursor.style.width = `${size}px`;
    cursor.style.height = `${size}px`;
    cursor.style.transform = `translate(${x - size / 2}px, ${y - size / 2}px)`;
    cursor.dataset.mode = this.mode;
  }

  // ------------------------------------------------------------ drawing

  #ensureBase() {
    if (this.ready) return this.ready;
    const { width, height } = this;
    this.ready = (async () => {
      const base = document.createElement('canvas');
      base.width = width;
      base.height = height;
      const image = this.el.cutout;
      try {
        await image.decode();
      } catch {
        // A decode failure leaves the base empty; the export is still right.
      }
      if (this.width !== width || this.height !== height) return; // a newer image replaced it
      base.getContext('2d').drawImage(image, 0, 0, width, height);
      this.base = base;
      this.#copyBaseToScreen();
    })();
    return this.ready;
  }

  #rebuild() {
    const width = this.width;
    this.ready = null;
    this.base = null;
    this.#ensureBase().then(() => {
      if (this.width !== width || !this.base) return;
      const ctx = this.base.getContext('2d');
      for (const stroke of this.done) this.#paint(ctx, stroke, strokeBox(stroke, this.width, this.height));
      this.#copyBaseToScreen();
      if (!this.done.length) this.#showCanvas(false);
    });
  }

  #copyBaseToScreen(box = { x: 0, y: 0, w: this.width, h: this.height }) {
    if (!this.base) return;
    const ctx = this.el.canvas.getContext('2d');
    ctx.clearRect(box.x, box.y, box.w, box.h);
    ctx.drawImage(this.base, box.x, box.y, box.w, box.h, box.x, box.y, box.w, box.h);
    this.#showCanvas(true);
  }

  #schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const stroke = this.current;
      if (!stroke || !this.base) return;
      this.#drawLive(stroke, strokeBox(stroke, this.width, this.height));
    });
  }

  /** The screen canvas = base + the stroke in progress, redrawn inside the stroke's box. */
  #drawLive(stroke, box) {
    if (!box) return;
    this.#copyBaseToScreen(box);
    this.#paint(this.el.canvas.getContext('2d'), stroke, box);
  }

  /** Apply one stroke to `ctx` within `box` (image pixels). */
  #paint(ctx, stroke, box) {
    if (!box) return;
    const mask = brushMask(stroke, box);
    ctx.save();
    if (stroke.mode === 'erase') {
      ctx.globalCompositeOperation = 'destination-out';
      ctx.drawImage(mask, box.x, box.y);
    } else {
      const original = this.el.original;
      if (original.complete && original.naturalWidth) {
        const patch = document.createElement('canvas');
        patch.width = box.w;
        patch.height = box.h;
        const pctx = patch.getContext('2d');
        pctx.drawImage(original, -box.x, -box.y, this.width, this.height);
        pctx.globalCompositeOperation = 'destination-in';
        pctx.drawImage(mask, 0, 0);
        ctx.drawImage(patch, box.x, box.y);
      }
    }
    ctx.restore();
  }

  #showCanvas(show) {
    this.el.canvas.hidden = !show;
    this.el.layer.classList.toggle('edited', show);
  }

  // ------------------------------------------------------------ controls

  #changed(text) {
    this.#syncButtons();
    this.announce(text);
    this.onChange();
  }

  #syncButtons() {
    this.el.undo.disabled = !this.done.length;
    this.el.redo.disabled = !this.undone.length;
    const count = this.done.length;
    this.el.undo.title = count ? `Undo (Ctrl+Z): ${count} ${count === 1 ? 'stroke' : 'strokes'}` : 'Undo (Ctrl+Z)';
  }

  #modeChanged() {
    const mode = this.mode;
    this.viewer.setBrushing(mode !== 'off');
    this.el.bar.dataset.mode = mode;
    if (mode === 'off') this.el.cursor.hidden = true;
  }

  #listen() {
    for (const input of this.el.modes) input.addEventListener('change', () => this.#modeChanged());
    this.el.undo.addEventListener('click', () => this.undo());
    this.el.redo.addEventListener('click', () => this.redo());
    document.addEventListener('keydown', (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || !this.width) return;
      // Text fields keep their own undo.
      if (event.target.closest?.('input[type="text"], input[type="number"], textarea, [contenteditable]')) return;
      const key = event.key.toLowerCase();
      if (key === 'z' && !event.shiftKey) {
        event.preventDefault();
        this.undo();
      } else if ((key === 'z' && event.shiftKey) || key === 'y') {
        event.preventDefault();
        this.redo();
      }
    });
  }
}

/** The stroke's reach (as offcut.touchup computes it), clipped to the image; null if outside. */
function strokeBox(stroke, width, height) {
  const blur = (stroke.softness * stroke.radius) / 2;
  const reach = stroke.radius + 3 * blur + 2;
  const xs = stroke.points.map((p) => p[0]);
  const ys = stroke.points.map((p) => p[1]);
  const x = Math.max(0, Math.floor(Math.min(...xs) - reach));
  const y = Math.max(0, Math.floor(Math.min(...ys) - reach));
  const right = Math.min(width, Math.ceil(Math.max(...xs) + reach) + 1);
  const bottom = Math.min(height, Math.ceil(Math.max(...ys) + reach) + 1);
  if (right <= x || bottom <= y) return null;
  return { x, y, w: right - x, h: bottom - y };
}

/** The brush's coverage inside `box`: white where it acts, soft at the edge. */
function brushMask(stroke, box) {
  const canvas = document.createElement('canvas');
  canvas.width = box.w;
  canvas.height = box.h;
  const ctx = canvas.getContext('2d');
  const blur = (stroke.softness * stroke.radius) / 2;
  const core = Math.max(0.5, stroke.radius - blur);
  if (blur > 0) ctx.filter = `blur(${blur}px)`;
  ctx.fillStyle = '#fff';
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 2 * core;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  const points = stroke.points.map(([x, y]) => [x - box.x, y - box.y]);
  ctx.beginPath();
  if (points.length === 1) {
    ctx.arc(points[0][0], points[0][1], core, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
  return canvas;
}

function round(value) {
  return Math.round(value * 10) / 10;
}
