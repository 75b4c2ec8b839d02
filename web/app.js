// The create-course page: binds the form to a DraftClient (autosave, restore,
// conflicts, offline), the file area to uploads, and shows errors and success.
import { DraftClient, OfflineError } from '/draft-client.js';
import { DraftLive } from '/draft-live.js';
import { findResumable, showResumable } from '/resume.js';
import { pillState, setUpFiles, showFiles, uploadsSettled } from '/files.js';
import { conflictText, fieldLabel, renderConflicts } from '/conflict.js';
import { atCap, bindDiscard, showCapOffer, showDiscard } from '/drafts.js';
import { renderErrors } from '/field-errors.js';
import { replayedText, showNote, showRemote } from '/notes.js';
import { showSuccess } from '/success.js';
import { restoreCourse, showTrashedDraft } from '/trash.js';

const $ = (selector) => document.querySelector(selector);
const form = $('#course-form');
const fields = $('#form-fields');
const statusEl = $('#save-status');
const notice = $('#notice');

const NUMBERS = new Set(['estimatedLessons', 'estimatedSections', 'lessonDuration']);
const STATUS_TEXT = {
  idle: 'Autosave on',
  pending: 'Not saved yet',
  saving: 'Saving…',
  saved: 'Saved',
  invalid: 'Saved, except',
  offline: 'Offline, will retry',
  conflict: 'Conflict',
  error: 'Not saved',
  submitted: 'Submitted',
};

// --- access token: the dev-mode demo user (a real app would use its session) ---

let token = null;
async function getToken({ refresh }) {
  if (!token || refresh) {
    const res = await fetch('/api/v1/dev/token', { cache: 'no-store' });
    if (!res.ok) {
      const why = res.status === 404 ? 'no dev token: start draftd with DRAFTD_DEV_MODE=true' : `token: HTTP ${res.status}`;
      throw Object.assign(new Error(why), { status: res.status });
    }
    token = (await res.json()).token;
  }
  return token;
}

/** The field the person has typed in since they entered it: another writer's change to it is a conflict. */
let typedIn = null;
const client = new DraftClient({ getToken, isEditing: () => (document.activeElement?.name === typedIn ? typedIn : null) });
const live = new DraftLive(client, { getToken });
live.addEventListener('change', () => (document.body.dataset.live = live.connected ? 'on' : 'off'));

// --- form <-> data -------------------------------------------------------

/** The form's names, in page order (formats once). */
const names = [...new Set([...form.elements].map((el) => el.name).filter(Boolean))];

function readField(name) {
  if (name === 'formats') {
    return [...form.querySelectorAll('input[name="formats"]:checked')].map((el) => el.value);
  }
  const el = form.elements.namedItem(name);
  if (NUMBERS.has(name)) return el.value === '' ? null : Number(el.value);
  return el.value;
}

function writeField(name, value) {
  if (name === 'formats') {
    const wanted = new Set(value || []);
    for (const v of wanted) ensureFormatBox(v);
    for (const box of form.querySelectorAll('input[name="formats"]')) box.checked = wanted.has(box.value);
    return;
  }
  const el = form.elements.namedItem(name);
  const text = value === undefined || value === null ? '' : String(value);
  if (el.value !== text) el.value = text; // untouched fields keep their caret
}

/** A format stored by another client that this page has no box for: show it rather than drop it. */
function ensureFormatBox(value) {
  if ([...form.querySelectorAll('input[name="formats"]')].some((b) => b.value === value)) return;
  const label = document.createElement('label');
  label.className = 'choice';
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'formats', value });
  label.append(box, ` ${value}`);
  $('#formats').append(label);
}

/** The field the user is in: another tab's change waits until they leave it. */
const editing = () => document.activeElement?.form === form ? document.activeElement.name : null;

/** Typed in before this script listened (a slow load): changed from the markup's value. */
function changedFromMarkup(name) {
  if (name === 'formats') return [...form.querySelectorAll('input[name="formats"]')].some((box) => box.checked !== box.defaultChecked);
  const el = form.elements.namedItem(name);
  return el.value !== el.defaultValue;
}
/** Fields typed in before the script ran: no `input` event told the client. Taken as edits
 *  once the draft is restored, and until then the draft's values do not overwrite them. */
const typedEarly = new Set(names.filter(changedFromMarkup));

function fillForm() {
  const data = client.formData;
  const busy = editing();
  for (const name of names) if (name !== busy && !typedEarly.has(name)) writeField(name, data[name]);
}
// Leaving a field shows what the draft holds for it, should another tab have changed it.
form.addEventListener('focusout', (event) => {
  const name = event.target.name;
  if (event.relatedTarget?.name !== name) typedIn = null;
  if (names.includes(name) && event.relatedTarget?.name !== name && !typedEarly.has(name)) writeField(name, client.formData[name]);
});

function onEdit(event) {
  const name = event.target.name;
  if (!name || !names.includes(name)) return;
  typedIn = name;
  delete submitErrors[name];
  if (submitNotice?.validation && !Object.keys(submitErrors).length) submitNotice = null;
  client.set(name, readField(name));
}
// `input` only: every edit fires it, checkboxes included. A `change` also fires
// when a field the user had typed in loses focus, and would save its text again
// over what another tab saved meanwhile.
form.addEventListener('input', onEdit);

// --- status, errors, notices --------------------------------------------

/** Errors from the last submit, per field; a field's go away when it is edited. */
let submitErrors = {};
/** What the last submit or file action has to say: {text, kind, validation?}. */
let submitNotice = null;

function showNotice(message) {
  notice.hidden = !message;
  notice.textContent = message?.text ?? '';
  notice.dataset.kind = message?.kind ?? '';
}

function render() {
  const state = client.state;
  const pill = pillState(state); // a file still uploading is unsaved work too
  statusEl.dataset.state = pill;
  const refused = Object.keys(client.errors).map((name) => fieldLabel(form, name)).join(', ');
  statusEl.querySelector('.label').textContent = pill === 'invalid' ? `${STATUS_TEXT[pill]} ${refused}` : STATUS_TEXT[pill];
  statusEl.title = pill === 'error' && client.failure ? client.failure.message : pill === 'invalid' ? `${refused}: not saved, see the field` : '';
  document.body.dataset.draftId = client.draft?.id ?? '';
  document.body.dataset.courseId = client.draft?.courseId ?? '';
  renderErrors(form, names, { ...submitErrors, ...client.errors });
  renderConflicts(form, client, (name, choice) => {
    client.resolve(name, choice);
    writeField(name, client.formData[name]);
    (name === 'formats' ? form.querySelector('input[name="formats"]') : form.elements.namedItem(name)).focus();
  });
  showNote(conflictText(form, client));
  showDiscard(client);
  showTrashedDraft(client);
  showCapOffer(client, { returnFocus: () => form.elements.namedItem(typedIn || 'topic')?.focus() });
  if (state === 'conflict' && Object.keys(client.conflicts).length) {
    showNotice(submitNotice);
  } else if (state === 'error' && (client.draft?.courseTrashed || atCap(client))) {
    showNotice(submitNotice);
  } else if (state === 'conflict') {
    showNotice({ kind: 'warn', text: 'This draft was changed in another tab or device. Fields you had not edited now show those changes; your own edits are kept and will be saved over them.' });
  } else if (state === 'offline') {
    showNotice({ kind: 'warn', text: 'The connection to the server is lost. Keep typing: nothing is lost, and your changes are saved as soon as it is back.' });
  } else if (state === 'error' && client.failure) {
    showNotice({ kind: 'error', text: `Your changes could not be saved: ${client.failure.message}` });
  } else {
    showNotice(submitNotice);
  }
  if (state === 'submitted') showSuccess(client, { fields, form });
}

client.addEventListener('state', render);
client.addEventListener('data', fillForm);
client.addEventListener('remote', ({ detail }) => showRemote(detail, { form, names, busy: editing() }));

// --- changes from other tabs and devices -----------------------------------

window.addEventListener('online', () => client.retryNow());
// The tab closes, or goes to the background (where it may be killed): every
// unacknowledged edit goes out with keepalive; the journal keeps it meanwhile.
window.addEventListener('pagehide', () => client.saveOnExit());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') client.saveOnExit();
});

// --- files ---------------------------------------------------------------

setUpFiles({
  client,
  getToken,
  onChange: render,
  onNotice: (message) => {
    submitNotice = message;
    render();
  },
  locked: () => fields.disabled,
});

// --- submit --------------------------------------------------------------

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = $('#submit');
  button.disabled = true;
  submitNotice = null;
  try {
    // Files on their way go into the course, or are left out only when the person says so.
    if (!(await uploadsSettled(button))) return;
    button.textContent = 'Creating…';
    await client.submit();
    submitErrors = {};
  } catch (err) {
    if (err.status === 422) {
      submitErrors = err.errors;
      const count = Object.keys(err.errors).length;
      submitNotice = { kind: 'error', validation: true, text: `Please correct ${count === 1 ? 'the highlighted field' : `the ${count} highlighted fields`}.` };
    } else if (err instanceof OfflineError) {
      submitNotice = { kind: 'error', text: 'The server cannot be reached. Your answers are kept; submit again once the connection is back.' };
    } else {
      submitNotice = { kind: 'error', text: `The course could not be created: ${err.message}` };
    }
  } finally {
    button.disabled = false;
    button.textContent = 'Create course';
    render();
    form.querySelector('[aria-invalid="true"]')?.focus();
  }
});

$('#new-course').addEventListener('click', () => {
  client.reset();
  location.reload();
});

// --- start ---------------------------------------------------------------

/** On another device (or with this tab's storage gone): offer the user's other drafts and the trash. */
async function offerResume() {
  try {
    const found = await findResumable(client, client.draft?.id);
    showResumable($('#resume'), found, {
      onContinue: async (id) => {
        await client.switchTo(id);
        await showFiles();
        $('#topic').focus();
      },
      onRestore: (id) => restoreCourse(client, id),
    });
  } catch {
    /* an offer, not a need: the new draft works without it */
  }
}

bindDiscard(client, {
  afterDiscard: async (message) => {
    submitNotice = message;
    fillForm();
    render();
    await showFiles();
  },
});

render();
await client.start();
for (const name of typedEarly) client.set(name, readField(name));
typedEarly.clear();
fillForm();
render();
live.start();
const replayed = replayedText(await client.replayJournals());
if (replayed) {
  submitNotice = { kind: 'warn', text: replayed };
  render();
}
await showFiles();
if (!client.restored) await offerResume();
