// Small renders for the batch list. An <img> of the photo or the cutout file itself keeps a
// full decode per row alive (a 24 MP photo: about 90 MiB each, and the list may hold
// hundreds); a thumbnail at twice the shown size costs some kilobytes. One is made at a
// time, so a big batch does not decode every photo at once.

// Device pixels of a thumbnail's longer side: 96 CSS px on a 2x (or 3x, a bit soft) screen.
const SIDE = 192;

let queue = Promise.resolve();

/** A blob URL of a small PNG of `blob` (a photo or a cutout file), or null when the browser
 *  cannot decode it (TIFF, HEIC: the row shows no picture). */
export function thumbnail(blob) {
  const made = queue.then(() => render(blob));
  queue = made.catch(() => {});
  return made.catch(() => null);
}

async function render(blob) {
  // A photo's own orientation (EXIF) applies; cutout files have none.
  const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' })
    .catch(() => createImageBitmap(blob));
  try {
    const scale = Math.min(1, SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext('2d');
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const small = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    if (!small) throw new Error('no thumbnail');
    return URL.createObjectURL(small);
  } finally {
    bitmap.close();
  }
}
