// The option controls in the sidebar: model, refine edges, background (transparent, white,
// any colour with recent-colour swatches, a photo, or the original blurred), format and quality.
// Owns their rules (JPEG cannot be transparent) and remembers choices in localStorage,
// and tells the app only what changed, in terms of the bridge's options.

import { megabytes } from '../messages.js';
import { normaliseHex, RecentColours } from './colours.js';
import { BackgroundPhoto } from './background-photo.js';
import { EdgeControls } from './edge-controls.js';

const STORAGE_KEY = 'offcut.options';
export const MODEL_IDS = ['u2netp', 'isnet-medium'];
/** The default choice: the best model the device can have now (see autoModelId). */
export const AUTO = 'auto';
const AUTO_BEST = 'isnet-medium';
const AUTO_SAVING = 'u2netp';
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
      auto: document.getElementById('model-auto'),
      autoNote: document.getElementById('auto-note'),
      autoSize: document.getElementById('auto-size'),
      dataSaver: document.getElementById('data-saver'),
      refine: document.getElementById('refine-edges'),
      backgrounds: [...document.querySelectorAll('input[name="background"]')],
      transparent: document.getElementById('bg-transparent'),
      white: document.getElementById('bg-white'),
      colourRadio: document.getElementById('bg-colour'),
      colour: document.getElementById('bg-colour-value'),
      hex: document.getElementById('bg-colour-hex'),
      photoRadio: document.getElementById('bg-photo'),
      photoInput: document.getElementById('bg-photo-input'),
      photoName: document.getElementById('bg-photo-name'),
      photoRow: document.getElementById('photo-options'),
      colourRow: document.getElementById('colour-options'),
      swatches: document.getElementById('swatches'),
      note: document.getElementById('background-note'),
      format: document.getElementById('format'),
      qualityRow: document.getElementById('quality-row'),
      quality: document.getElementById('quality'),
      qualityValue: document.getElementById('quality-value'),
    };
    // Set when JPEG forced white, so going back to PNG/WebP can restore transparency.
    this.whiteForcedByJpeg = false;
    /** Download size of each model (bytes), from the worker's records. */
    this.sizes = new Map();
    this.backdrop = new BackgroundPhoto({
      radio: this.el.photoRadio, input: this.el.photoInput, name: this.el.photoName,
      transparent: this.el.transparent,
      onChange: () => { this.whiteForcedByJpeg = false; this.#changed(); },
    });
    this.#restore();
    this.recent = new RecentColours(this.el.swatches, (colour) => this.#useColour(colour));
    this.edgeControls = new EdgeControls(() => this.handlers.onLookChange());
    this.#listen();
    this.#applyFormatRules({ announce: false });
    this.#showBackgroundExtras();
  }

  /** The radio chosen: AUTO or one of MODEL_IDS. */
  get modelChoice() {
    return this.el.models.find((input) => input.checked)?.value || AUTO;
  }

  /** The model to load: the chosen one, or what Auto stands for now. */
  get modelId() {
    const choice = this.modelChoice;
    return choice === AUTO ? this.autoModelId : choice;
  }

  /** Auto is Best, unless the user (or the browser's Save-Data setting) saves data. */
  get autoModelId() {
    return this.savingData ? AUTO_SAVING : AUTO_BEST;
  }

  get savingData() {
    return this.el.dataSaver.checked || navigator.connection?.saveData === true;
  }

  /** Check a model's radio without announcing it as a user change (after a cancel or fallback).
   *  Auto stays checked while it stands for that model. */
  showModel(modelId) {
    if (this.el.auto.checked && modelId === this.autoModelId) return;
    for (const input of this.el.models) input.checked = input.value === modelId;
  }

  #showAutoNote() {
    this.el.autoNote.textContent = this.savingData ? 'Fast: data saver is on' : 'Best, with a quick first look';
    const bytes = this.sizes.get(this.autoModelId);
    this.el.autoSize.textContent = bytes ? `${megabytes(bytes)} download` : '';
  }

  setModelsEnabled(enabled) {
    this.el.modelGroup.disabled = !enabled;
  }

  /** Fill sizes, titles and licences (under "Model licences") from the worker's records. */
  showRecords(records) {
    for (const record of records || []) {
      const size = document.querySelector(`[data-size-for="${record.id}"]`);
      const title = document.querySelector(`[data-title-for="${record.id}"]`);
      const licence = document.querySelector(`[data-licence-for="${record.id}"]`);
      // The worker's records carry downloadBytes; models/index.json's entries their parts.
      const parts = record.parts?.reduce((sum, part) => sum + part.bytes, 0);
      const bytes = record.downloadBytes || parts || record.bytes;
      if (size && bytes) size.textContent = `${megabytes(bytes)} download`;
      if (bytes) this.sizes.set(record.id, bytes);
      if (title && record.title) title.textContent = record.title;
      if (licence && record.licence) {
        licence.textContent = record.licence_note ? `${record.licence}. ${record.licence_note}` : record.licence;
      }
    }
    this.#showAutoNote();
  }

  get refineEdges() {
    return this.el.refine.checked;
  }

  /** Set the box without announcing a change (a cancelled switch puts back what is shown). */
  showRefine(refine) {
    this.el.refine.checked = refine;
    this.#save();
  }

  get backgroundChoice() {
    return this.el.backgrounds.find((input) => input.checked)?.value || 'transparent';
  }

  /** null for transparent, '#rrggbb', 'photo' or 'blur' (what render() takes). A photo
   *  background without a photo yet counts as transparent. */
  get background() {
    switch (this.backgroundChoice) {
      case 'white': return '#ffffff';
      case 'colour': return normaliseHex(this.el.colour.value) || '#ffffff';
      case 'photo': return this.backdrop.photo ? 'photo' : null;
      case 'blur': return 'blur';
      default: return null;
    }
  }

  /** What the preview shows behind the cutout: {kind: 'none'|'colour'|'photo'|'blur', ...}. */
  get look() {
    const background = this.background;
    if (background === 'photo') return { kind: 'photo', url: this.backdrop.photo.url };
    if (background === 'blur') return { kind: 'blur' };
    if (background) return { kind: 'colour', colour: background };
    return { kind: 'none' };
  }

  /** The app sets these when a canvas preset asks for them (marketplace: white JPEG). */
  setFormat(format) {
    if (this.el.format.value === format) return;
    this.el.format.value = format;
    this.#applyFormatRules({ announce: false });
    this.#changed();
  }

  setBackgroundChoice(choice) {
    const input = this.el.backgrounds.find((item) => item.value === choice);
    if (!input || input.checked) return;
    input.checked = true;
    this.whiteForcedByJpeg = false;
    this.#changed();
  }

  /** Add the current colour to the recent-colour swatches (most recent first). */
  rememberColour() {
    if (this.backgroundChoice !== 'colour') return;
    const colour = normaliseHex(this.el.colour.value);
    if (colour) this.recent.remember(colour);
  }

  #useColour(colour) {
    const { el } = this;
    el.colour.value = colour;
    el.hex.value = colour;
    el.hex.removeAttribute('aria-invalid');
    el.colourRadio.checked = true;
    this.whiteForcedByJpeg = false;
    this.#changed();
  }

  get format() {
    return this.el.format.value;
  }

  /** The options object for OffcutWorker.render() (background, format and quality). */
  get renderOptions() {
    const options = { background: this.background, format: this.format, quality: Number(this.el.quality.value) };
    if (options.background === 'photo') options.backgroundPhoto = this.backdrop.photo.bytes;
    const edges = this.edgeControls.edges;
    if (edges) options.edges = edges;
    return options;
  }

  #restore() {
    const saved = load();
    // `model` is the choice (Auto or a model). The older `modelId` is not read: it held
    // whichever model loaded, Fast for everyone who never chose, and Auto replaces that.
    const choice = this.el.models.find((input) => input.value === saved.model);
    if (choice) choice.checked = true;
    if (typeof saved.dataSaver === 'boolean') this.el.dataSaver.checked = saved.dataSaver;
    this.#showAutoNote();
    if (typeof saved.refineEdges === 'boolean') this.el.refine.checked = saved.refineEdges;
    const colour = normaliseHex(saved.colour || '');
    if (colour) {
      this.el.colour.value = colour;
      this.el.hex.value = colour;
    }
    // A photo is not kept between visits, so a saved "photo" choice starts as transparent.
    const background = this.el.backgrounds.find((input) => input.value === saved.background && input.value !== 'photo');
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
        model: this.#modelToKeep(),
        dataSaver: this.el.dataSaver.checked,
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

  /** Auto while it stands for the loaded model, else the loaded model (a failed switch is not
   *  sticky). */
  #modelToKeep() {
    if (!this.loadedModel) return load().model;
    return this.modelChoice === AUTO && this.loadedModel === this.autoModelId ? AUTO : this.loadedModel;
  }

  /** Remember the model only once it has actually loaded, so a failed switch is not sticky. */
  rememberModel(modelId) {
    this.loadedModel = modelId;
    this.#save();
  }

  #listen() {
    const { el } = this;
    let previousModel = this.modelId;
    const modelChanged = () => {
      const before = previousModel;
      previousModel = this.modelId;
      if (previousModel !== before) this.handlers.onModelChange(previousModel, before);
      else this.#save(); // Auto chosen while it stands for the loaded model
    };
    for (const input of el.models) {
      input.addEventListener('change', () => {
        if (input.checked) modelChanged();
      });
    }
    el.dataSaver.addEventListener('change', () => {
      this.#showAutoNote();
      this.#save();
      if (el.auto.checked) modelChanged();
    });
    // Keep previousModel right when the app checks a radio itself (after a cancel).
    this.#syncPreviousModel = (id) => { previousModel = id; };

    el.refine.addEventListener('change', () => {
      this.#save();
      this.handlers.onRefineChange(el.refine.checked);
    });

    for (const input of el.backgrounds) {
      input.addEventListener('change', () => {
        this.whiteForcedByJpeg = false;
        if (input.checked) this.backdrop.chosen(input);
        this.#changed();
      });
    }
    el.colour.addEventListener('change', () => this.rememberColour());

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
        this.rememberColour();
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
    this.#showBackgroundExtras();
    this.handlers.onLookChange();
  }

  #showBackgroundExtras() {
    const choice = this.backgroundChoice;
    this.el.photoRow.hidden = choice !== 'photo';
    // The picker only matters for "Colour"; recent-colour swatches stay as one-tap shortcuts.
    this.el.colourRow.hidden = choice !== 'colour';
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
