// The person's drafts from the page: discarding the one being edited (with a
// confirmation), and the offer shown at the cap of live drafts (the oldest, each
// with its files, one to discard so that saving carries on).
import { ago } from '/resume.js';

const $ = (selector) => document.querySelector(selector);
const CAP_PROBLEM = 'urn:draftd:problem:too-many-drafts';
const OFFERED = 5;

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The draft's files: none until its course exists. */
async function fileCount(client, draft) {
  if (!draft.courseId) return 0;
  try {
    return (await client.request('GET', `/api/v1/drafts/${encodeURIComponent(draft.id)}/files`)).length;
  } catch {
    return 0;
  }
}

/** What discarding costs, in words: "its course and its 2 files are erased too". */
function cost(draft, files) {
  if (!draft.courseId) return '';
  return files ? `its course and its ${plural(files, 'file')} are erased too` : 'its course is erased too';
}

// --- the one being edited ------------------------------------------------------

/** Binds "Discard draft": a confirmation first, then the draft and its journal are gone. */
export function bindDiscard(client, { afterDiscard }) {
  const [button, confirm, question, yes, no] = ['#discard', '#discard-confirm', '#discard-question', '#discard-yes', '#discard-no'].map($);
  button.onclick = async () => {
    const draft = client.draft;
    const files = draft ? await fileCount(client, draft) : 0;
    const costs = draft ? cost(draft, files) : '';
    question.textContent = `Discard this draft? What you typed is deleted${costs ? `, and ${costs}` : ''}. This cannot be undone.`;
    confirm.hidden = false;
    no.focus();
  };
  no.onclick = () => {
    confirm.hidden = true;
    button.focus();
  };
  yes.onclick = async () => {
    yes.disabled = true;
    try {
      await client.discard();
      confirm.hidden = true;
      await afterDiscard({ text: 'The draft was discarded. The form is empty: what you type now starts a new one.', kind: 'info' });
      $('#topic').focus();
    } catch (err) {
      question.textContent = `Could not discard the draft: ${err.message}`;
    } finally {
      yes.disabled = false;
    }
  };
}

/** The discard button is there while there is a draft to discard. */
export function showDiscard(client) {
  const draft = client.draft;
  $('#discard').hidden = !draft || draft.status === 'submitted';
  if ($('#discard').hidden) $('#discard-confirm').hidden = true;
}

// --- the cap ------------------------------------------------------------------

/** The save failed because the person has as many drafts as they may keep. */
export const atCap = (client) => client.state === 'error' && client.failure?.problem?.type === CAP_PROBLEM;

function capRow(list, draft, files, onDiscard) {
  const li = document.createElement('li');
  li.className = 'resume-item';
  const title = draft.formData?.topic || draft.topic || 'Untitled draft';
  li.innerHTML = '<div class="resume-text"><strong class="resume-title"></strong><span class="resume-meta"></span></div><button type="button" class="button secondary"></button>';
  li.querySelector('.resume-title').textContent = title;
  li.querySelector('.resume-meta').textContent = [`Saved ${ago(draft.updatedAt)}`, plural(files, 'file'), draft.courseId ? 'has a course' : ''].filter(Boolean).join(' · ');
  const button = li.querySelector('button');
  button.textContent = 'Discard';
  button.setAttribute('aria-label', `Discard “${title}”`);
  button.onclick = () => {
    const costs = cost(draft, files);
    if (!files && !draft.courseId) return onDiscard(draft, title, li);
    // A draft with a course: say what goes with it, and ask.
    const confirm = document.createElement('div');
    confirm.className = 'confirm';
    confirm.setAttribute('role', 'group');
    const q = Object.assign(document.createElement('p'), { textContent: `Discard “${title}”? ${costs[0].toUpperCase()}${costs.slice(1)}.`, id: `cap-q-${draft.id}` });
    confirm.setAttribute('aria-labelledby', q.id);
    const yes = Object.assign(document.createElement('button'), { type: 'button', className: 'button danger', textContent: 'Discard for good' });
    const no = Object.assign(document.createElement('button'), { type: 'button', className: 'button secondary', textContent: 'Cancel' });
    yes.onclick = () => onDiscard(draft, title, li);
    no.onclick = () => {
      confirm.remove();
      button.hidden = false;
      button.focus();
    };
    confirm.append(q, yes, no);
    button.hidden = true;
    li.append(confirm);
    no.focus();
  };
  list.append(li);
}

let capShown = false;

/**
 * Shows the cap offer while the client is held by the cap, hides it after.
 * Discarding one draft lets the client retry at once.
 */
export async function showCapOffer(client, { returnFocus }) {
  const section = $('#cap');
  if (!atCap(client)) {
    if (capShown) section.hidden = true;
    capShown = false;
    return;
  }
  if (capShown) return;
  capShown = true;
  const status = $('#cap-status');
  const list = $('#cap-drafts');
  let drafts = [];
  try {
    drafts = (await client.request('GET', '/api/v1/drafts?include=formData&limit=100')).items;
  } catch {
    /* without the list, the cap still says why nothing is saved */
  }
  const oldest = drafts.slice(-OFFERED).reverse();
  const files = await Promise.all(oldest.map((d) => fileCount(client, d)));
  list.replaceChildren();
  oldest.forEach((draft, i) => capRow(list, draft, files[i], async (d, title, li) => {
    try {
      await client.request('DELETE', `/api/v1/drafts/${encodeURIComponent(d.id)}`);
      li.remove();
      status.textContent = `“${title}” discarded. Saving your course again.`;
      section.hidden = true;
      capShown = false;
      returnFocus();
      client.retryNow();
    } catch (err) {
      status.textContent = `Could not discard “${title}”: ${err.message}`;
    }
  }));
  document.querySelector('#resume').hidden = true;
  section.hidden = false;
}
