// The option controls in the sidebar: model, refine edges, background, format and quality.
// Owns their rules (JPEG cannot be transparent) and remembers choices in localStorage,
// and tells the app only what changed, in terms of the bridge's options.

import { megabytes } from '../messages.js';

const STORAGE_KEY = 'offcut.options';
export const MODEL_IDS = ['u2netp', 'isnet-medium'];
const HEX = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i;

function normaliseHex(text) {
  const match = HEX.exec(String(text).trim());
  if (!match) return null;
  let digits = match[1].toLowerCase();
  if (digits.length === 3) digits = [...digits].map((d) => d + d).join('');
  return `#${digits}`;
}

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {}; // storage disabled (private mode) or damaged: defaults are fine
  }
}

export class Options {
  #syncPreviousModel = () => {};

  /**
   * @param {object} handlers
   *   onModelChange(modelId, previousId), onRefineChange(refine), onLookChange() for anything
   *   that changes how the preview or the download looks, onNotice() when JPEG forced white.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.el = {
      modelGroup: document.getElementById('model-options'),
      models: [...document.querySelectorAll('input[name="model"]')],
      refine: document.getElementById('refine-edges'),
      backgrounds: [...document.querySelectorAll('input[name="background"]')],
      transparent: document.getElementById('bg-transparent'),
      white: document.getElementById('bg-white'),
      colourRadio: document.getElementById('bg-colour'),
      colour: document.getElementById('bg-colour-value'),
      hex: document.getElementById('bg-colour-hex'),
      note: document.getElementById('background-note'),
      format: document.getElementById('format'),
      qualityRow: document.getElementById('quality-row'),
      quality: document.getElementById('quality'),
      qualityValue: document.getElementById('quality-value'),
    };
    // Set when JPEG forced white, so going back to PNG/WebP can restore transparency.
    this.whiteForcedByJpeg = false;
    this.#restore();
    this.#listen();
    this.#applyFormatRules({ announce: false });
  }

  get modelId() {
    return this.el.models.find((input) => input.checked)?.value || MODEL_IDS[0];
  }

  /** Check a model's radio without announcing it as a user change (after a cancel or fallback). */
  showModel(modelId) {
    for (const input of this.el.models) input.checked = input.value === modelId;
  }

  setModelsEnabled(enabled) {
    this.el.modelGroup.disabled = !enabled;
  }

  /** Fill sizes and licences from the worker's model records. */
  showRecords(records) {
    for (const record of records || []) {
      const size = document.querySelector(`[data-size-for="${record.id}"]`);
      const title = document.querySelector(`[data-title-for="${record.id}"]`);
      const licence = document.querySelector(`[data-licence-for="${record.id}"]`);
      if (size && record.bytes) size.textContent = `${megabytes(record.bytes)} download`;
      if (title && record.title) title.textContent = record.title;
      if (licence && record.licence) {
        licence.textContent = record.licence_note ? `${record.licence}. ${record.licence_note}` : record.licence;
      }
    }
  }

  get refineEdges() {
    return this.el.refine.checked;
  }

  get backgroundChoice() {
    return this.el.backgrounds.find((input) => input.checked)?.value || 'transparent';
  }

  /** null for transparent, otherwise '#rrggbb' (what both the preview and render() take). */
  get background() {
    switch (this.backgroundChoice) {
      case 'white': return '#ffffff';
      case 'colour': return normaliseHex(this.el.colour.value) || '#ffffff';
      default: return null;
    }
  }

  get format() {
    return this.el.format.value;
  }

  /** The options object for OffcutWorker.render(). */
  get renderOptions() {
    return { background: this.background, format: this.format, quality: Number(this.el.quality.value) };
  }

  #restore() {
    const saved = load();
    if (MODEL_IDS.includes(saved.modelId)) this.showModel(saved.modelId);
    if (typeof saved.refineEdges === 'boolean') this.el.refine.checked = saved.refineEdges;
    const colour = normaliseHex(saved.colour || '');
    if (colour) {
      this.el.colour.value = colour;
      this.el.hex.value = colour;
    }
    const background = this.el.backgrounds.find((input) => input.value === saved.background);
    if (background) background.checked = true;
    if ([...this.el.format.options].some((option) => option.value === saved.format)) {
      this.el.format.value = saved.format;
    }
    const quality = Number(saved.quality);
    if (quality >= 50 && quality <= 100) this.el.quality.value = String(quality);
    this.el.qualityValue.textContent = this.el.quality.value;
  }

  #save() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({
        modelId: this.loadedModel || load().modelId,
        refineEdges: this.refineEdges,
        background: this.backgroundChoice,
        colour: normaliseHex(this.el.colour.value),
        format: this.format,
        quality: Number(this.el.quality.value),
      }));
    } catch {
      // Storage can be full or disabled; forgetting a preference is harmless.
    }
  }

  /** Remember the model only once it has actually loaded, so a failed switch is not sticky. */
  rememberModel(modelId) {
    this.loadedModel = modelId;
    this.#save();
  }

  #listen() {
    const { el } = this;
    let previousModel = this.modelId;
    for (const input of el.models) {
      input.addEventListener('change', () => {
        if (!input.checked) return;
        const before = previousModel;
        previousModel = input.value;
        this.handlers.onModelChange(input.value, before);
      });
    }
    // Keep previousModel right when the app checks a radio itself (after a cancel).
    this.#syncPreviousModel = (id) => { previousModel = id; };

    el.refine.addEventListener('change', () => {
      this.#save();
      this.handlers.onRefineChange(el.refine.checked);
    });

    for (const input of el.backgrounds) {
      input.addEventListener('change', () => {
        this.whiteForcedByJpeg = false;
        this.#changed();
      });
    }

    el.colour.addEventListener('input', () => {
      el.hex.value = el.colour.value;
      el.hex.removeAttribute('aria-invalid');
      el.colourRadio.checked = true;
      this.whiteForcedByJpeg = false;
      this.#changed();
    });

    el.hex.addEventListener('input', () => {
      // Only a complete six-digit colour is applied while typing; "#3b" is left alone.
      if (!/^#?[0-9a-f]{6}$/i.test(el.hex.value.trim())) return;
      el.colour.value = normaliseHex(el.hex.value);
      el.hex.removeAttribute('aria-invalid');
      el.colourRadio.checked = true;
      this.whiteForcedByJpeg = false;
      this.#changed();
    });
    el.hex.addEventListener('change', () => {
      const colour = normaliseHex(el.hex.value);
      if (colour) {
        el.hex.value = colour;
        el.colour.value = colour;
        el.colourRadio.checked = true;
        el.hex.removeAttribute('aria-invalid');
        this.#changed();
      } else {
        el.hex.setAttribute('aria-invalid', 'true');
      }
    });
    el.hex.addEventListener('blur', () => {
      if (!normaliseHex(el.hex.value)) {
        el.hex.value = el.colour.value; // put back the last good colour rather than leave junk
        el.hex.removeAttribute('aria-invalid');
      }
    });

    el.format.addEventListener('change', () => {
      this.#applyFormatRules({ announce: true });
      this.#changed();
    });

    el.quality.addEventListener('input', () => {
      el.qualityValue.textContent = el.quality.value;
      this.#save();
    });
  }

  /** Called by the app after it reverts a model choice, so the next change compares correctly. */
  revertModel(modelId) {
    this.showModel(modelId);
    this.#syncPreviousModel(modelId);
  }

  #changed() {
    this.#save();
    this.handlers.onLookChange();
  }

  #applyFormatRules({ announce }) {
    const { el } = this;
    const lossy = this.format !== 'png';
    el.qualityRow.hidden = !lossy;
    const jpeg = this.format === 'jpeg';
    el.transparent.disabled = jpeg;
    if (jpeg) {
      if (this.backgroundChoice === 'transparent') {
        el.white.checked = true;
        this.whiteForcedByJpeg = true;
      }
      el.note.textContent = 'JPEG cannot store transparency, so a background is used. Choose PNG or WebP to keep it transparent.';
      el.note.hidden = false;
      if (announce && this.whiteForcedByJpeg) this.handlers.onNotice?.();
    } else {
      el.note.hidden = true;
      if (this.whiteForcedByJpeg && this.backgroundChoice === 'white') el.transparent.checked = true;
      this.whiteForcedByJpeg = false;
    }
  }
}
