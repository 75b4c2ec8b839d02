// What the page says about changes it did not make: another tab's or device's
// (the live note, fixed under the sticky bar so that it is seen wherever the
// page is scrolled), and the replay of a closed tab's unsaved edits.

const liveNote = document.querySelector('#live-note');
let liveTimer = null;
let noteHeld = false;

/** A note that stays while `text` is set (an open conflict); null lets it go. */
export function showNote(text) {
  if (text) {
    clearTimeout(liveTimer);
    if (liveNote.textContent !== text) liveNote.textContent = text;
    liveNote.hidden = false;
  } else if (noteHeld) {
    liveNote.hidden = true;
  }
  noteHeld = Boolean(text);
}

/**
 * Says what another tab did, and marks the fields it changed for a moment
 * (not `busy`, the one being edited).
 */
export function showRemote({ type, fields }, { form, names, busy }) {
  const text = {
    saved: 'Edited in another tab or device: the fields you are not editing show the changes.',
    submitted: 'This course was submitted in another tab or device.',
    discarded: 'This draft was discarded in another tab or device. What you type now starts a new one.',
    materialized: null,
  }[type];
  if (!text || noteHeld) return;
  liveNote.textContent = text;
  liveNote.hidden = false;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => (liveNote.hidden = true), 8000);
  for (const name of fields.filter((f) => names.includes(f) && f !== busy)) {
    const box = name === 'formats' ? form.querySelector('#formats') : form.elements.namedItem(name);
    box.classList.add('remote-changed');
    setTimeout(() => box.classList.remove('remote-changed'), 1500);
  }
}

/** What the replay of a closed tab's unsaved edits did, in words (null: nothing to say). */
export function replayedText(outcomes) {
  const texts = [];
  for (const outcome of outcomes) {
    if (outcome.kind === 'recreated') {
      texts.push('Text you typed in a page that closed before it was saved belonged to a draft that has expired: it was saved into a new draft, listed below.');
    }
    const conflicts = Object.keys(outcome.conflicts || {});
    if (conflicts.length) {
      texts.push(`Text you typed in a page that closed before it was saved replaced a change made elsewhere to ${conflicts.join(', ')}; the other version was: ${conflicts.map((f) => JSON.stringify(outcome.conflicts[f])).join('; ')}.`);
    }
  }
  return texts.length ? texts.join(' ') : null;
}
