// A question before something is thrown away ("Discard 12 results?"), in the page's one
// <dialog id="confirm">. showModal() makes the rest of the page inert and traps focus; the
// safe answer has the focus first, so Enter or Escape (the dialog's 'cancel') keeps things.

const $ = (id) => document.getElementById(id);

let pending = null; // the resolve of the question on screen

/** Ask; resolves true for the destructive answer, false for the safe one (and Escape). */
export function confirmDialog({ title, text, confirm = 'Discard', keep = 'Keep' }) {
  const dialog = $('confirm');
  if (pending) answer(false); // a second question replaces the first: that one is kept
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-yes').textContent = confirm;
  $('confirm-no').textContent = keep;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    pending = (result) => {
      pending = null;
      dialog.close();
      // Back where the user was: showModal() does not restore focus everywhere.
      if (opener?.isConnected && opener.checkVisibility?.()) opener.focus({ preventScroll: true });
      resolve(result);
    };
    dialog.showModal();
    $('confirm-no').focus();
  });
}

function answer(result) {
  pending?.(result);
}

/** Wires the dialog's buttons once (app.js). */
export function setUpConfirm() {
  const dialog = $('confirm');
  $('confirm-yes').addEventListener('click', () => answer(true));
  $('confirm-no').addEventListener('click', () => answer(false));
  // Escape: the browser closes the dialog itself; this makes it mean Keep.
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    answer(false);
  });
  // Closed some other way (form method=dialog, script): still an answer, never a hang.
  dialog.addEventListener('close', () => answer(false));
}
