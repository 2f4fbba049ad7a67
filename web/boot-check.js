// A classic script, before the app's module: if app.js or a module it imports cannot be
// loaded (offline, with the copy kept on this device damaged, so the service worker answers
// an error), none of the app's code runs to say so and the page would wait forever. This
// says it, with a Retry that reloads. It does nothing else.

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
