// Colours typed or picked for the background: '#rgb'/'#rrggbb' text made one form, and the
// recent-colour swatches (remembered in localStorage, most recent first).

const SWATCH_KEY = 'offcut.recent-colours';
const MAX_SWATCHES = 6;
const HEX = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i;

/** '#ABC', 'aabbcc' -> '#aabbcc'; null for anything that is not a hex colour. */
export function normaliseHex(text) {
  const match = HEX.exec(String(text).trim());
  if (!match) return null;
  let digits = match[1].toLowerCase();
  if (digits.length === 3) digits = [...digits].map((d) => d + d).join('');
  return `#${digits}`;
}

function loadSwatches() {
  try {
    const list = JSON.parse(localStorage.getItem(SWATCH_KEY));
    return Array.isArray(list) ? list.map(normaliseHex).filter(Boolean).slice(0, MAX_SWATCHES) : [];
  } catch {
    return [];
  }
}

/** The swatch buttons in `element`; a tap calls `onUse(colour)`. */
export class RecentColours {
  constructor(element, onUse) {
    this.element = element;
    this.onUse = onUse;
    this.show(loadSwatches());
  }

  /** Put `colour` first (once) and show the list. */
  remember(colour) {
    const list = [colour, ...loadSwatches().filter((item) => item !== colour)].slice(0, MAX_SWATCHES);
    try {
      localStorage.setItem(SWATCH_KEY, JSON.stringify(list));
    } catch {
      // Not remembering a swatch is harmless.
    }
    this.show(list);
  }

  show(list) {
    const buttons = list.map((colour) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'swatch';
      button.dataset.colour = colour;
      button.title = colour;
      button.setAttribute('aria-label', `Use ${colour}`);
      button.style.backgroundColor = colour;
      button.addEventListener('click', () => this.onUse(colour));
      return button;
    });
    this.element.replaceChildren(...buttons);
    this.element.hidden = !buttons.length;
  }
}
