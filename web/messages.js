// Every sentence the user reads about errors, warnings and progress lives here.
// The worker and bridge only send stable codes plus technical detail; wording is the UI's job,
// so it can change (or be translated) without touching the pipeline.

/** Decimal megabytes with one decimal place, as download sizes are usually quoted. */
export function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** "3.1 / 4.6 MB": both numbers share the unit so the pair reads as one quantity. */
export function bytesProgress(done, total) {
  const done_mb = (done / 1e6).toFixed(1);
  return total > 0 ? `${done_mb} / ${(total / 1e6).toFixed(1)} MB` : `${done_mb} MB`;
}

/** The detail line of a stage that reports no numbers: how long it has run, or, when its
 *  last run here is known, about how long is left. */
export function busyDetail(elapsed, expected) {
  if (expected > 0) {
    const left = Math.ceil(expected - elapsed);
    return left > 0 ? `about ${left} s left` : 'almost done';
  }
  return elapsed >= 1 ? `${Math.floor(elapsed)} s` : '';
}

export function backendLabel(backend, threads) {
  if (backend === 'webgpu') return 'WebGPU';
  if (backend === 'wasm') {
    const count = Number(threads) || 1;
    return `CPU (WASM), ${count} ${count === 1 ? 'thread' : 'threads'}`;
  }
  return backend ? String(backend) : '';
}

/** What each pipeline stage is doing, in words; `model` is the record's label ("Fast"/"Best"). */
export function stageLabel(stage, model) {
  const name = model ? `${model} model` : 'model';
  switch (stage) {
    case 'runtime': return 'Starting the engine';
    case 'packages': return 'Loading image libraries';
    case 'model-download': return `Downloading the ${name}`;
    case 'model-verify': return `Checking the ${name} download`;
    case 'model-queued': return `Starting the engine; the ${name} downloads next`;
    case 'model-wait': return `Waiting for the ${name}`;
    case 'quick': return 'Taking a first look';
    case 'session': return `Preparing the ${name}`;
    case 'decode': return 'Reading your image';
    case 'prepare': return 'Preparing the image';
    case 'model': return 'Finding the subject';
    case 'refine': return 'Refining the edges';
    case 'encode': return 'Encoding the image';
    default: return 'Working';
  }
}

/** Short names for the per-stage timings shown under the result. */
const TIMING_LABELS = {
  decode: 'read',
  prepare: 'prepare',
  model: 'model',
  finish: 'edges',
  refine: 'edges',
  foreground: 'colours',
  encode: 'preview',
  quick: 'first look',
};

/** Pipeline order, so the times read in the order the work happened. */
const TIMING_ORDER = ['decode', 'prepare', 'quick', 'model', 'finish', 'refine', 'foreground', 'encode'];
const rank = (key) => (TIMING_ORDER.includes(key) ? TIMING_ORDER.indexOf(key) : TIMING_ORDER.length);

/** "read 0.12 s · model 1.4 s · … · total 2.0 s" from {stage: seconds}. */
export function timingsText(timings) {
  const entries = Object.entries(timings || {})
    .filter(([, seconds]) => Number.isFinite(seconds))
    .sort(([a], [b]) => rank(a) - rank(b));
  if (!entries.length) return '';
  const parts = entries.map(([key, seconds]) => `${TIMING_LABELS[key] || key} ${seconds.toFixed(2)} s`);
  const total = entries.reduce((sum, [key, seconds]) => (key === 'total' ? sum : sum + seconds), 0);
  if (!('total' in timings)) parts.push(`total ${total.toFixed(2)} s`);
  return parts.join(' · ');
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * Turn an OffcutError-like {code, message, details} into what the error panel shows:
 * {text, technical, retry}. Returns null for codes the user should not hear about (cancelled).
 * `technical` is only set when our sentence cannot explain the problem on its own.
 */
export function describeError(error) {
  const code = error?.code || 'internal';
  const details = error?.details || {};
  const technical = error?.message ? String(error.message) : '';
  switch (code) {
    case 'cancelled':
      return null;
    case 'empty-file':
      return { text: 'That file is empty (0 bytes), so there is no picture to work on. Try choosing it again, or pick another photo.' };
    case 'unsupported-format': {
      const format = details.format ? String(details.format) : '';
      const what = format ? `This image is in ${format} format, which Offcut cannot read.` : 'Offcut cannot read this kind of image.';
      const iphone = /^(HEIC|HEIF)$/i.test(format)
        ? ' On an iPhone you can make new photos compatible in Settings > Camera > Formats > Most Compatible.'
        : '';
      return { text: `${what} Please export it as JPEG or PNG and try again.${iphone}` };
    }
    case 'corrupt-image':
      return { text: 'This image looks damaged or incomplete, so it cannot be opened. If it came from a download or a message, try saving it again.' };
    case 'image-too-large': {
      const { width, height, limit } = details;
      const size = width && height ? `This image is ${width} × ${height} pixels (${(width * height / 1e6).toFixed(0)} megapixels), ` : 'This image is ';
      const max = limit ? `the ${(limit / 1e6).toFixed(0)} megapixel limit` : 'the size limit';
      // Up to 4 times the limit (offcut.decode's SHRINK_LIMIT) it can be shrunk to fit.
      if (width && height && limit && width * height <= 4 * limit) {
        return {
          text: `${size}larger than ${max} that fits in the browser's memory. Offcut can shrink it to fit and go on; the cutout will then be smaller than the original.`,
          retry: true,
          retryLabel: `Shrink to ${(limit / 1e6).toFixed(0)} MP and continue`,
        };
      }
      return { text: `${size}larger than ${max} that fits in the browser's memory. Please make it smaller and try again.` };
    }
    case 'image-too-small': {
      const { width, height, min_side: minSide } = details;
      const size = width && height ? `This image is only ${width} × ${height} pixels` : 'This image is too small';
      const need = minSide ? ` (at least ${minSide} pixels on each side are needed)` : '';
      return { text: `${size}, too small to find a subject in${need}. Please choose a larger photo.` };
    }
    case 'no-subject':
      return { text: 'No subject was found in this image, so the result would be empty. Offcut works best on a photo with a clear subject (a person, an animal or an object); try another photo or the Best model.' };
    case 'model-output':
      return { text: 'The model gave an unexpected result for this image. Try the other model, or a different photo.', technical, retry: true };
    case 'invalid-option':
      return { text: 'One of the export settings was not accepted. Please check the options and try again.', technical };
    case 'download-failed': {
      const status = details.status ? ` (the server answered ${details.status})` : '';
      return {
        text: `The model could not be downloaded${status}. The first time, Offcut needs an internet connection to fetch it; after that it works offline.`,
        technical: details.url ? `${technical} ${details.url}`.trim() : technical,
        retry: true,
      };
    }
    case 'hash-mismatch':
      return { text: 'The model download was damaged on the way (its checksum did not match). It will be fetched again when you retry.', retry: true };
    case 'cache-corrupt-offline': {
      const what = details.model ? 'The copy of the model saved on this device'
        : 'A file of Offcut saved on this device';
      return {
        text: `${what} was damaged, and a fresh copy cannot be fetched while you are offline. Connect to the internet and press Retry.`,
        technical,
        retry: true,
      };
    }
    case 'asset-corrupt':
      return { text: 'A file of Offcut arrived damaged or from a different version (its checksum did not match). Reload the page; if a new version has just been published, that fetches it.', technical, retry: true };
    case 'storage-full':
      return { text: describeWarning(error).text };
    case 'webgpu-failed':
    case 'webgpu-slow':
      return { text: describeWarning(error).text, retry: true };
    case 'model-failed':
      return { text: 'The model could not run on this device. Please try again, or switch to the Fast model.', technical, retry: true };
    case 'worker-crashed':
      return { text: 'The background-removal engine stopped unexpectedly. Press Retry to restart it; your image is still here.', technical, retry: true };
    case 'out-of-memory':
      return { text: 'Your browser ran out of memory on this image. Try a smaller image, the Fast model, or closing other tabs, then retry.', retry: true };
    case 'share-failed':
      return { text: 'Your browser could not open its share sheet for this file. Use Download instead; the file is the same.', technical };
    case 'not-an-image': {
      const name = details.name ? `“${details.name}”` : 'That file';
      return { text: `${name} is not an image. Please choose a photo, such as a JPEG, PNG or WebP file.` };
    }
    case 'internal':
      return { text: 'Something went wrong inside Offcut. Please try again; if it keeps happening, the technical details below help to find the cause.', technical, retry: true };
    default:
      return { text: 'Something unexpected went wrong. Please try again.', technical: `${code}: ${technical}`, retry: true };
  }
}

/** Non-fatal notices: {text, technical}. Unknown codes still get a sentence, with the detail. */
export function describeWarning(warning) {
  const code = warning?.code;
  const details = warning?.details || {};
  switch (code) {
    case 'storage-full':
      return { text: 'Your browser storage is full, so the model could not be saved for next time. Everything works now, but it will download again on your next visit.' };
    case 'webgpu-failed':
      return { text: 'WebGPU did not work on this device, so Offcut switched to the CPU (WASM). Results are the same, just slower.' };
    case 'webgpu-slow':
      return { text: 'WebGPU was much slower than expected on this device, so Offcut switched to the CPU (WASM) and will keep using it here. Results are the same.' };
    case 'storage-unavailable':
      return { text: 'This browser does not let Offcut save the model (private browsing can do this), so it will download again next time.' };
    case 'cache-corrupt':
      return { text: 'The saved copy of the model was damaged, so Offcut downloaded a fresh one.' };
    case 'animated':
    case 'animated-first-frame': {
      const frames = Number(details.frames) || 0;
      return { text: frames > 1 ? `This is an animation with ${frames} frames; Offcut used the first frame.` : 'This is an animation; Offcut used the first frame.' };
    }
    case 'multiple-files':
      return { text: `You dropped ${plural(details.count, 'file', 'files')}. Offcut works on one image at a time for now, so it used “${details.name}”.` };
    case 'no-image-in-clipboard':
      return { text: 'The clipboard does not contain an image. Copy a picture first, then paste it here.' };
    case 'original-not-shown':
      return { text: 'Your browser cannot display the original of this file type, so only the cutout is shown.' };
    case 'shrunk': {
      const [fromWidth, fromHeight] = details.from || [];
      return { text: `Shrunk from ${fromWidth} × ${fromHeight} to ${details.width} × ${details.height} pixels to fit in memory.` };
    }
    case 'reloaded-for-threads':
      return { text: 'Offcut reloaded once, before you had picked anything, to use all of your processor’s cores on this site. It will not happen again.' };
    default:
      return { text: 'Offcut noticed something unusual, but carried on.', technical: `${code || 'warning'}: ${warning?.message || ''}` };
  }
}
