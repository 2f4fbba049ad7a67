// The photo behind the cutout when the background is "Photo": chosen at once when "Photo" is
// picked without one, and if the picker closes without a photo the background goes back to
// what it was (a "Photo" background with no photo would show, and save, a transparent file).
// Not remembered between visits.

export class BackgroundPhoto {
  /** `onChange()` runs when the photo, or the background choice, changed. */
  constructor({ radio, input, name, transparent, onChange }) {
    Object.assign(this, { radio, input, name, transparent, onChange });
    /** {name, bytes (ArrayBuffer), url} once chosen. */
    this.photo = null;
    this.before = null; // the background input checked before "Photo", to go back to
    input.addEventListener('cancel', () => this.#none());
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (file) this.#take(file);
      else this.#none();
      input.value = '';
    });
  }

  /** A background radio was checked by the user: "Photo" without a photo asks for one (the
   *  click is a user gesture); any other is where a closed picker goes back to. */
  chosen(radio) {
    if (radio === this.radio && !this.photo) this.input.click();
    else if (radio !== this.radio) this.before = radio;
  }

  #none() {
    if (this.photo || !this.radio.checked) return;
    (this.before || this.transparent).checked = true;
    this.onChange();
  }

  async #take(file) {
    let bytes;
    try {
      bytes = await file.arrayBuffer();
    } catch {
      return;
    }
    if (this.photo) URL.revokeObjectURL(this.photo.url);
    this.photo = { name: file.name || 'photo', bytes, url: URL.createObjectURL(file) };
    this.name.textContent = this.photo.name;
    this.radio.checked = true;
    this.onChange();
  }
}
