// The option sections are <details>: each summary shows the section's current choice
// ("Shadow: Off", "File: PNG"), so a closed section still says what it will do to the file.
// Reads the controls only; the options and finishing modules own their meaning.

const $ = (id) => document.getElementById(id);

const BACKGROUNDS = { transparent: 'Transparent', white: 'White', colour: 'Colour', photo: 'Photo', blur: 'Blurred' };
const FORMATS = { png: 'PNG', webp: 'WebP', jpeg: 'JPEG' };
const PRESETS = { marketplace: 'Marketplace', social: 'Square social', passport: 'Passport', custom: 'Custom size' };

function checkedValue(name) {
  return document.querySelector(`input[name="${name}"]:checked`)?.value || '';
}

/** Each section's summary text, from the controls as they are now. */
export function summaries() {
  const model = document.querySelector('input[name="model"]:checked')?.closest('label')?.querySelector('strong')?.textContent || '';
  const preset = $('preset').value;
  const crop = $('crop').checked;
  let canvas = PRESETS[preset] || (crop ? 'Cropped' : 'Whole photo');
  if (PRESETS[preset] && crop) canvas += ', cropped';
  return {
    cutout: [
      model,
      $('refine-edges').checked ? 'refined edges' : '',
      $('edge-solid').checked ? 'solid' : '',
      Number($('edge-shift').value) ? `edge ${Number($('edge-shift').value) > 0 ? '+' : ''}${$('edge-shift').value} px` : '',
      Number($('edge-feather').value) ? `feather ${$('edge-feather').value} px` : '',
    ].filter(Boolean).join(', '),
    background: BACKGROUNDS[checkedValue('background')] || '',
    shadow: $('shadow').checked ? 'On' : 'Off',
    crop: canvas,
    file: $('export-mask').checked ? 'Mask PNG' : FORMATS[$('format').value] || '',
  };
}

export class Sections {
  constructor() {
    this.values = [...document.querySelectorAll('[data-summary]')];
    // Users' own changes arrive as events; the app calls refresh() after changing a control
    // itself (a canvas preset sets the format and background).
    for (const type of ['change', 'input']) {
      document.querySelector('.sidebar').addEventListener(type, () => this.refresh());
    }
    this.refresh();
  }

  refresh() {
    const texts = summaries();
    for (const element of this.values) element.textContent = texts[element.dataset.summary] || '';
  }
}
