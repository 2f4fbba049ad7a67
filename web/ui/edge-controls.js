// The edge controls under "Edges": a solid inside, the edge shifted in or out, feathered.
// The worker applies them to the finished cutout (offcut.edges), so they change the view
// and the file at once, without the model. Not remembered: they belong to one photo.

const $ = (id) => document.getElementById(id);

export class EdgeControls {
  /** `onChange()` runs on every change, a slider's drag included. */
  constructor(onChange) {
    this.solid = $('edge-solid');
    this.shift = $('edge-shift');
    this.feather = $('edge-feather');
    this.solid.addEventListener('change', () => onChange());
    for (const [range, output] of [[this.shift, $('edge-shift-value')], [this.feather, $('edge-feather-value')]]) {
      range.addEventListener('input', () => {
        output.textContent = `${Number(range.value) > 0 && range === this.shift ? '+' : ''}${range.value} px`;
        onChange();
      });
    }
  }

  /** {shift (px, + outward), feather (px), solid} as ExportOptions.edges, or null for none. */
  get edges() {
    const edges = { shift: Number(this.shift.value), feather: Number(this.feather.value), solid: this.solid.checked };
    return edges.shift || edges.feather || edges.solid ? edges : null;
  }
}
