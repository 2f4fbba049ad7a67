// Finishing controls: drop shadow, crop and canvas presets, size limit, mask export and the
// file name. Turns them into the matching part of render()'s options (see bridge.js) and
// remembers the choices (not the file name, which belongs to one image) in localStorage.

const STORAGE_KEY = 'offcut.finishing';
const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' };
const MARGIN = /^\s*(\d+(?:\.\d+)?)\s*(%|px)?\s*$/i;

/** The canvas presets, as documented in py/offcut/layout.py (PRESETS). */
export const PRESETS = {
  marketplace: {
    format: 'jpeg',
    background: 'white',
    note: 'Pure white (#FFFFFF), square 2000 × 2000 px JPEG, the product spanning about 85% of the frame: what large marketplaces ask of a main listing image (2000 px allows zoom).',
  },
  social: {
    note: '1080 × 1080 px, the subject spanning 80%; keeps the background you chose.',
  },
  passport: {
    format: 'jpeg',
    background: 'white',
    note: 'White, 827 × 1063 px (35 × 45 mm at 600 dpi). The whole subject is fitted, standing on the bottom edge and spanning 90% of the height, so start from a head-and-shoulders photo. Check your authority’s exact rules before submitting.',
  },
  custom: {
    note: 'Your own canvas size; the subject is scaled to fill the given share of it.',
  },
};

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {};
  }
}

/** "5%", "5 %", "40px", "40" (pixels) -> normalised text, or null when not a margin. */
export function parseMargin(text) {
  const match = MARGIN.exec(String(text ?? ''));
  if (!match) return null;
  return `${Number(match[1])}${(match[2] || 'px').toLowerCase()}`;
}

/** "holiday.JPG" -> "holiday"; nameless -> "image". */
export function stemOf(name) {
  // Leading dots left out: a download is never a hidden file ('..jpg' -> 'image').
  return String(name || '').split(/[\\/]/).pop().replace(/\.[^.]*$/, '').trim().replace(/^\.+/, '') || 'image';
}

/** The default download name: "<stem>-cutout.<ext>", or "<stem>-mask.png" for a mask. */
export function defaultFileName(sourceName, format, mask) {
  const stem = stemOf(sourceName);
  return mask ? `${stem}-mask.png` : `${stem}-cutout.${EXTENSIONS[format] || format}`;
}

/** The user's name with the right extension for what is being saved. */
export function withExtension(name, format, mask) {
  const extension = mask ? 'png' : EXTENSIONS[format] || format;
  const cleaned = String(name || '').replace(/[\\/:*?"<>|]+/g, '-').trim();
  if (!cleaned) return null;
  const accepted = extension === 'jpg' ? /\.(jpe?g)$/i : new RegExp(`\\.${extension}$`, 'i');
  return accepted.test(cleaned) ? cleaned : `${cleaned.replace(/\.(png|jpe?g|webp)$/i, '')}.${extension}`;
}

export class Finishing {
  /**
   * @param {object} handlers
   *   onLookChange() when the preview or the file changes; onPreset(name, preset) when the
   *   canvas preset changes (preset is null for none; the app applies its format and
   *   background, and restores them when it is left); format() returns
   *   the chosen format.
   */
  constructor(handlers) {
    this.handlers = handlers;
    const $ = (id) => document.getElementById(id);
    this.el = {
      shadow: $('shadow'),
      shadowOptions: $('shadow-options'),
      opacity: $('shadow-opacity'),
      opacityValue: $('shadow-opacity-value'),
      blur: $('shadow-blur'),
      blurValue: $('shadow-blur-value'),
      offset: $('shadow-offset'),
      offsetValue: $('shadow-offset-value'),
      crop: $('crop'),
      margin: $('margin'),
      preset: $('preset'),
      presetNote: $('preset-note'),
      custom: $('custom-canvas'),
      width: $('canvas-width'),
      height: $('canvas-height'),
      fill: $('fill'),
      fillValue: $('fill-value'),
      maxSize: $('max-size'),
      mask: $('export-mask'),
      fileName: $('file-name'),
      format: $('format'),
    };
    this.sourceName = '';
    this.nameEdited = false; // the user typed a name: keep it until the next image
    this.#restore();
    this.#listen();
    this.#sync();
  }

  get shadow() {
    if (!this.el.shadow.checked) return null;
    return {
      opacity: Number(this.el.opacity.value) / 100,
      blur: Number(this.el.blur.value) / 100,
      offset: [0, Number(this.el.offset.value) / 100],
    };
  }

  get mask() {
    return this.el.mask.checked;
  }

  get preset() {
    const value = this.el.preset.value;
    return value === 'none' ? null : value;
  }

  /** The finishing part of render()'s options (strokes and the look come from elsewhere). */
  get renderOptions() {
    const options = { shadow: this.shadow, crop: this.el.crop.checked, mask: this.mask };
    options.margin = parseMargin(this.el.margin.value) || '5%';
    const preset = this.preset;
    if (preset) options.preset = preset;
    if (preset === 'custom') {
      options.canvas = [clampInt(this.el.width.value, 16, 10000, 1200), clampInt(this.el.height.value, 16, 10000, 1200)];
      options.fill = clampInt(this.el.fill.value, 10, 100, 85) / 100;
    }
    const maxSize = Number.parseInt(this.el.maxSize.value, 10);
    if (maxSize >= 16) options.max_size = maxSize;
    return options;
  }

  /** A new image: its name becomes the default file name again. */
  setSource(name) {
    this.sourceName = name || '';
    this.nameEdited = false;
    this.refreshName();
  }

  /** The name to save under, with an extension that matches what is saved. */
  fileName(format = this.handlers.format()) {
    const typed = this.nameEdited ? withExtension(this.el.fileName.value, format, this.mask) : null;
    return typed || defaultFileName(this.sourceName, format, this.mask);
  }

  /** Keep the file name field in step with the format and mask choice. */
  refreshName() {
    const format = this.handlers.format();
    if (this.nameEdited) {
      const fixed = withExtension(this.el.fileName.value, format, this.mask);
      if (fixed) this.el.fileName.value = fixed;
    } else {
      this.el.fileName.value = this.sourceName ? defaultFileName(this.sourceName, format, this.mask) : '';
    }
    this.el.fileName.placeholder = defaultFileName(this.sourceName || 'image', format, this.mask);
  }

  #restore() {
    const saved = load();
    const { el } = this;
    if (typeof saved.shadow === 'boolean') el.shadow.checked = saved.shadow;
    for (const key of ['opacity', 'blur', 'offset', 'fill']) {
      const value = Number(saved[key]);
      const input = el[key];
      if (Number.isFinite(value) && value >= Number(input.min) && value <= Number(input.max)) input.value = String(value);
    }
    if (typeof saved.crop === 'boolean') el.crop.checked = saved.crop;
    if (parseMargin(saved.margin)) el.margin.value = saved.margin;
    if ([...el.preset.options].some((option) => option.value === saved.preset)) el.preset.value = saved.preset;
    if (saved.width) el.width.value = String(clampInt(saved.width, 16, 10000, 1200));
    if (saved.height) el.height.value = String(clampInt(saved.height, 16, 10000, 1200));
    if (Number(saved.maxSize) >= 16) el.maxSize.value = String(saved.maxSize);
  }

  #save() {
    const { el } = this;
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({
        shadow: el.shadow.checked,
        opacity: Number(el.opacity.value),
        blur: Number(el.blur.value),
        offset: Number(el.offset.value),
        crop: el.crop.checked,
        margin: el.margin.value,
        preset: el.preset.value,
        width: Number(el.width.value),
        height: Number(el.height.value),
        fill: Number(el.fill.value),
        maxSize: Number.parseInt(el.maxSize.value, 10) || null,
      }));
    } catch {
      // Forgetting a preference is harmless.
    }
  }

  #changed() {
    this.#sync();
    this.#save();
    this.handlers.onLookChange();
  }

  /** Show and hide the dependent controls, and the value labels. */
  #sync() {
    const { el } = this;
    el.shadowOptions.hidden = !el.shadow.checked;
    el.opacityValue.textContent = `${el.opacity.value}%`;
    el.blurValue.textContent = `${el.blur.value}%`;
    el.offsetValue.textContent = `${el.offset.value}%`;
    el.fillValue.textContent = `${el.fill.value}%`;
    el.margin.disabled = !el.crop.checked;
    const preset = PRESETS[el.preset.value];
    el.presetNote.hidden = !preset;
    el.presetNote.textContent = preset?.note || '';
    el.custom.hidden = el.preset.value !== 'custom';
    // A mask is always a PNG: the format does not apply to it.
    el.format.disabled = el.mask.checked;
    this.refreshName();
  }

  #listen() {
    const { el } = this;
    for (const input of [el.opacity, el.blur, el.offset, el.fill]) {
      input.addEventListener('input', () => this.#changed());
    }
    for (const input of [el.shadow, el.crop, el.mask]) {
      input.addEventListener('change', () => this.#changed());
    }

    el.margin.addEventListener('input', () => {
      el.margin.toggleAttribute('aria-invalid', !parseMargin(el.margin.value));
      if (parseMargin(el.margin.value)) this.#changed();
    });
    el.margin.addEventListener('change', () => {
      const margin = parseMargin(el.margin.value);
      if (margin) {
        el.margin.value = margin;
        el.margin.removeAttribute('aria-invalid');
        this.#changed();
      }
    });
    el.margin.addEventListener('blur', () => {
      if (!parseMargin(el.margin.value)) {
        el.margin.value = '5%';
        el.margin.removeAttribute('aria-invalid');
        this.#changed();
      }
    });

    el.preset.addEventListener('change', () => {
      const name = el.preset.value;
      // Also for "none": the app puts back what the preset it leaves had set.
      this.handlers.onPreset?.(name, PRESETS[name] || null);
      this.#changed();
    });
    for (const input of [el.width, el.height, el.maxSize]) {
      input.addEventListener('change', () => this.#changed());
    }

    el.fileName.addEventListener('input', () => {
      this.nameEdited = el.fileName.value.trim() !== '';
    });
    el.fileName.addEventListener('change', () => {
      if (!el.fileName.value.trim()) this.nameEdited = false;
      this.refreshName();
    });
    el.format.addEventListener('change', () => this.refreshName());
  }
}

function clampInt(value, low, high, fallback) {
  const number = Number.parseInt(value, 10);
  if (!Number.isFinite(number)) return fallback;
  return Math.min(high, Math.max(low, number));
}
