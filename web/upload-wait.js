/**
 * What a submit does about uploads not finished: it waits for those in flight
 * (the button counting them, "Finishing 2 uploads…"), and asks the person about
 * those that cannot finish by themselves (paused, or known only by name after a
 * reload): resume them and wait, submit without them, or go back. A course is
 * never submitted with a file silently left out.
 *
 * @module upload-wait
 */

/**
 * An upload as the file area tracks it.
 * @typedef {object} PendingUpload
 * @property {string} name
 * @property {'sending'|'waiting'|'paused'|'shelved'|'done'|'failed'|'cancelled'} phase
 *   `shelved`: known from an earlier page, its file not chosen again yet
 * @property {() => void} resume
 * @property {() => Promise<void>} drop  stops it for good, and asks the server to drop its bytes
 */

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Waits until no upload is in flight, asking about the stalled ones.
 * @param {object} o
 * @param {() => PendingUpload[]} o.pending  the uploads not finished, now
 * @param {EventTarget} o.changes  fires `change` when an upload's phase changes
 * @param {HTMLButtonElement} o.button  the submit button: says what it waits for
 * @param {(text: string) => void} o.announce  for screen readers (an aria-live region)
 * @param {(notice: {kind: string, text: string}) => void} o.onNotice
 * @returns {Promise<boolean>} true: submit now; false: the person went back, or an upload failed
 */
export async function settle({ pending, changes, button, announce, onNotice }) {
  const awaited = new Set();
  for (;;) {
    const failed = [...awaited].filter((u) => u.phase === 'failed');
    if (failed.length) {
      onNotice({ kind: 'error', text: `${failed.map((u) => u.name).join(', ')} could not be added (see the file list). Create the course again to submit without ${failed.length === 1 ? 'it' : 'them'}.` });
      return false;
    }
    const now = pending();
    const stalled = now.filter((u) => u.phase === 'paused' || u.phase === 'shelved');
    if (stalled.length) {
      const choice = await ask(stalled);
      if (choice === 'wait') stalled.filter((u) => u.phase === 'paused').forEach((u) => u.resume());
      else if (choice === 'without') {
        await Promise.all(stalled.map((u) => u.drop()));
        announce(`Submitting without ${stalled.map((u) => u.name).join(', ')}.`);
      } else return false;
      continue;
    }
    const moving = now.filter((u) => u.phase === 'sending' || u.phase === 'waiting');
    if (!moving.length) return true;
    moving.forEach((u) => awaited.add(u));
    const text = `Finishing ${plural(moving.length, 'upload')}…`;
    if (button.textContent !== text) {
      button.textContent = text;
      announce(`${text} The course is created once ${moving.length === 1 ? 'it is' : 'they are'} uploaded.`);
    }
    await new Promise((resolve) => changes.addEventListener('change', resolve, { once: true }));
  }
}

/**
 * A modal dialog: resume and wait (when some can be resumed), submit without
 * them, or go back (also Escape).
 * @param {PendingUpload[]} stalled
 * @returns {Promise<'wait'|'without'|'back'>}
 */
function ask(stalled) {
  const canWait = stalled.some((u) => u.phase === 'paused');
  const them = stalled.length === 1 ? 'it' : 'them';
  const dialog = document.createElement('dialog');
  dialog.className = 'upload-confirm';
  dialog.setAttribute('aria-labelledby', 'upload-confirm-title');
  dialog.innerHTML = `<form method="dialog">
    <h2 id="upload-confirm-title"></h2>
    <ul></ul>
    <div class="upload-confirm-actions">
      <button class="button" value="wait">Resume and wait</button>
      <button class="button secondary" value="without"></button>
      <button class="button secondary" value="back">Go back</button>
    </div>
  </form>`;
  dialog.querySelector('h2').textContent = `${plural(stalled.length, 'file')} ${stalled.length === 1 ? 'is' : 'are'} not uploaded yet`;
  for (const u of stalled) {
    const why = u.phase === 'paused' ? 'paused' : 'the page was reloaded: drop or choose it again to resume';
    dialog.querySelector('ul').append(Object.assign(document.createElement('li'), { textContent: `${u.name} (${why})` }));
  }
  dialog.querySelector('[value="wait"]').hidden = !canWait;
  // The safe choice has the focus: Enter never leaves a file out.
  dialog.querySelector(canWait ? '[value="wait"]' : '[value="back"]').autofocus = true;
  dialog.querySelector('[value="without"]').textContent = `Submit without ${them}`;
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(['wait', 'without'].includes(dialog.returnValue) ? dialog.returnValue : 'back');
      dialog.remove();
    }, { once: true });
  });
}
