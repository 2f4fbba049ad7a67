// Getting images in: drag and drop anywhere on the page (files or folders), paste, or the
// file pickers (one photo; several; a folder where the browser allows it).
// Decides only "is this plausibly an image?"; the worker is the judge of whether it decodes,
// so formats like HEIC get through here and receive the worker's specific message.

const IMAGE_EXTENSIONS = /\.(jpe?g|jfif|png|apng|gif|webp|bmp|dib|tiff?|ico|heic|heif|avif|jxl|jp2|j2k|tga|ppm|pgm|pbm|pnm|psd|dng|cr2|nef|arw)$/i;

/** A File is an image if its type says so, or (types are often blank) its name does. */
export function looksLikeImage(file) {
  if (file.type) return file.type.startsWith('image/');
  return IMAGE_EXTENSIONS.test(file.name || '') || !/\.[a-z0-9]+$/i.test(file.name || '');
}

/** Every file under a dropped folder entry (FileSystemDirectoryEntry), depth first. */
async function filesOfEntry(entry, depth = 0) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject)).catch(() => null);
    return file ? [file] : [];
  }
  if (!entry.isDirectory || depth > 8) return [];
  const reader = entry.createReader();
  const children = [];
  for (;;) {
    // readEntries hands out a directory in chunks (about 100 at a time) until an empty one.
    const chunk = await new Promise((resolve, reject) => reader.readEntries(resolve, reject)).catch(() => []);
    if (!chunk.length) break;
    children.push(...chunk);
  }
  children.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  const files = [];
  for (const child of children) {
    if (child.name.startsWith('.')) continue; // .DS_Store and friends
    files.push(...(await filesOfEntry(child, depth + 1)));
  }
  return files;
}

/**
 * @param {object} handlers
 *   onFile(file, {ignored}) with the chosen file and how many others were left out;
 *   onFiles(files) for a batch (more than one image, or a folder); onNotImage(file);
 *   onNoImageInClipboard().
 */
export function setUpInput({ onFile, onFiles, onNotImage, onNoImageInClipboard }) {
  const picker = document.getElementById('file-input');
  const batchPicker = document.getElementById('batch-input');
  const folderPicker = document.getElementById('batch-folder-input');
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

  /** Several files: a batch of the images among them; one image is the usual single flow. */
  function takeMany(files) {
    const list = [...files];
    const images = list.filter(looksLikeImage);
    if (images.length > 1 && onFiles) onFiles(images);
    else take(images.length ? images : list);
  }

  picker.addEventListener('change', () => {
    take(picker.files || []);
    picker.value = ''; // so choosing the same file again still fires "change"
  });
  for (const input of [batchPicker, folderPicker]) {
    input?.addEventListener('change', () => {
      takeMany(input.files || []);
      input.value = '';
    });
  }
  // Folder picking is not everywhere (iOS Safari): offer it only where it exists.
  if (folderPicker && !('webkitdirectory' in folderPicker)) {
    document.getElementById('batch-folder').hidden = true;
  }

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
    // Entries must be taken now: the DataTransfer is emptied once this handler returns.
    const entries = [...(event.dataTransfer.items || [])]
      .filter((item) => item.kind === 'file')
      .map((item) => item.webkitGetAsEntry?.())
      .filter(Boolean);
    const files = [...event.dataTransfer.files];
    if (entries.some((entry) => entry.isDirectory)) {
      Promise.all(entries.map((entry) => filesOfEntry(entry)))
        .then((lists) => takeMany(lists.flat()));
    } else if (files.length > 1) {
      takeMany(files);
    } else {
      take(files);
    }
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

  // A photo given before this ran (boot-check.js kept a drop or paste; a picker keeps its
  // own): taken now, so a slow first visit never loses it.
  const early = window.offcutEarly;
  if (early) {
    early.taken = true;
    if (early.files.length) takeMany(early.files);
    early.files = [];
  }
  if (picker.files?.length) {
    take(picker.files);
    picker.value = '';
  }
  for (const input of [batchPicker, folderPicker]) {
    if (!input?.files?.length) continue;
    takeMany(input.files);
    input.value = '';
  }
}
