// Getting an image in: drag and drop anywhere on the page, paste, or the file picker.
// Decides only "is this plausibly an image?"; the worker is the judge of whether it decodes,
// so formats like HEIC get through here and receive the worker's specific message.

const IMAGE_EXTENSIONS = /\.(jpe?g|jfif|png|apng|gif|webp|bmp|dib|tiff?|ico|heic|heif|avif|jxl|jp2|j2k|tga|ppm|pgm|pbm|pnm|psd|dng|cr2|nef|arw)$/i;

/** A File is an image if its type says so, or (types are often blank) its name does. */
export function looksLikeImage(file) {
  if (file.type) return file.type.startsWith('image/');
  return IMAGE_EXTENSIONS.test(file.name || '') || !/\.[a-z0-9]+$/i.test(file.name || '');
}

/**
 * @param {object} handlers
 *   onFile(file, {ignored}) with the chosen file and how many others were left out;
 *   onNotImage(file); onNoImageInClipboard().
 */
export function setUpInput({ onFile, onNotImage, onNoImageInClipboard }) {
  const picker = document.getElementById('file-input');
  const body = document.body;

  function take(files) {
    const list = [...files];
    if (!list.length) return;
    const file = list.find(looksLikeImage);
    if (!file) {
      onNotImage(list[0]);
      return;
    }
    onFile(file, { ignored: list.length - 1 });
  }

  picker.addEventListener('change', () => {
    take(picker.files || []);
    picker.value = ''; // so choosing the same file again still fires "change"
  });

  // Dragging files anywhere over the page shows the drop overlay. dragenter/leave fire for
  // every child element, so count them instead of trusting a single leave event.
  let depth = 0;
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event)) return;
    depth += 1;
    body.classList.add('drag-over');
  });
  document.addEventListener('dragleave', (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) body.classList.remove('drag-over');
  });
  document.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // allow dropping; otherwise the browser opens the file
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    body.classList.remove('drag-over');
    take(event.dataTransfer.files);
  });

  document.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      take(files);
      return;
    }
    // Plain text pasted into a text field (the colour hex) is ordinary typing.
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    onNoImageInClipboard();
  });
}
