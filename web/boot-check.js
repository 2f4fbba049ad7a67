// A classic script, before the app's module. Two jobs for the moments before app.js runs:
// 1. If app.js or a module it imports cannot be loaded (offline, with the copy kept on this
//    device damaged, so the service worker answers an error), none of the app's code runs to
//    say so and the page would wait forever. This says it, with a Retry that reloads.
// 2. A photo dropped or pasted before app.js has run (a slow first visit) would be opened by
//    the browser in place of the page, or ignored: it is kept in `window.offcutEarly.files`
//    for ui/input.js, which sets `taken` when it takes over. (A photo chosen with the picker
//    meanwhile stays in the input: ui/input.js reads it from there.)

window.offcutEarly = { files: [], taken: false };
{
  const early = window.offcutEarly;
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
  document.addEventListener('dragover', (event) => {
    if (!early.taken && carriesFiles(event)) event.preventDefault();
  });
  document.addEventListener('drop', (event) => {
    if (early.taken || !carriesFiles(event)) return;
    event.preventDefault();
    early.files = [...event.dataTransfer.files];
  });
  document.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (early.taken || !files.length) return;
    event.preventDefault();
    early.files = files;
  });
}

window.addEventListener('error', (event) => {
  if (!(event.target instanceof HTMLScriptElement) || event.target.type !== 'module') return;
  const show = () => {
    const panel = document.getElementById('error');
    if (!panel || document.body.dataset.state === 'error') return;
    document.getElementById('error-text').textContent = 'Offcut could not start: a file it keeps '
      + 'on this device is damaged, and a fresh copy cannot be fetched without a connection. '
      + 'Connect to the internet, then press Retry.';
    const retry = document.getElementById('retry');
    retry.hidden = false;
    retry.addEventListener('click', () => location.reload());
    document.getElementById('error-dismiss').hidden = true;
    panel.hidden = false;
    document.getElementById('status-text').textContent = 'Offcut could not start.';
    document.body.dataset.state = 'error';
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show);
  else show();
}, true);
