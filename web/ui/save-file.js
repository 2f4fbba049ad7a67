// Saving the rendered file: the name users expect, and a download without leaving the page.

const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/** "holiday.JPG" + jpeg -> "holiday-cutout.jpg"; nameless input (a paste) -> "image-cutout.png". */
export function cutoutFileName(sourceName, format) {
  const stem = String(sourceName || '').replace(/\.[^./\\]*$/, '').trim() || 'image';
  return `${stem}-cutout.${EXTENSIONS[format] || format}`;
}

export function saveBlob(blob, fileName) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers; a minute is plenty.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
