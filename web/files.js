// The page's file area: the draft's files, uploads (resumable, by tus) with
// their progress, Pause/Resume and Cancel, the drop zone; and what unfinished
// uploads mean for the rest of the page: the save status, leaving the page,
// and the submit (web/upload-wait.js).
import { TusUpload, probe, terminate } from '/tus-upload.js';
import { keyOf, shelfStorage, shelved, sweep, unshelve } from '/upload-shelf.js';
import { showRefusal } from '/upload-problem.js';
import { settle } from '/upload-wait.js';

const $ = (selector) => document.querySelector(selector);
const fileList = $('#file-list');
const uploadStatus = $('#upload-status');

/** What the page lends the file area: set by {@link setUpFiles}. */
let page = null;
/** Uploads not finished: in flight, paused, or known from an earlier page. */
const uploads = new Set();
/** Fires `change` whenever an upload moves to another phase, or ends. */
const changes = new EventTarget();

const announce = (text) => (uploadStatus.textContent = text);

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function fileItem(name, size) {
  const li = document.createElement('li');
  li.className = 'file';
  li.innerHTML = '<span class="file-name"></span><span class="file-meta"></span><button type="button" class="pause" hidden>Pause</button><button type="button" class="remove" hidden>Remove</button>';
  li.querySelector('.file-name').textContent = name;
  li.querySelector('.file-meta').textContent = formatSize(size);
  fileList.append(li);
  return li;
}

function showUploaded(li, meta) {
  li.dataset.fileId = meta.id;
  li.dataset.state = 'uploaded';
  li.querySelector('.file-meta').textContent = formatSize(meta.sizeBytes);
  li.querySelector('.progress')?.remove();
  li.querySelector('.pause').hidden = true;
  const remove = li.querySelector('.remove');
  remove.hidden = false;
  remove.textContent = 'Remove';
  remove.disabled = false;
  remove.setAttribute('aria-label', `Remove ${meta.originalName}`);
  remove.onclick = async () => {
    remove.disabled = true;
    try {
      await page.client.removeFile(meta.id);
      li.remove();
      announce(`${meta.originalName} removed.`);
    } catch (err) {
      remove.disabled = false;
      page.onNotice({ kind: 'error', text: `Could not remove ${meta.originalName}: ${err.message}` });
    }
  };
}

/** The row's `data-state` for each phase. */
const ROW_STATE = { sending: 'uploading', waiting: 'waiting', paused: 'paused', shelved: 'paused', done: 'uploaded', failed: 'failed' };

/**
 * One upload in the list: its row, its tus upload and its phase. Made for a
 * chosen file, or from the shelf for one a reload left half-way (`shelved`,
 * until the same file is chosen again).
 */
class Upload {
  /** @type {import('/upload-wait.js').PendingUpload['phase']} */
  phase = 'sending';
  tus = null;
  #resume = null;

  constructor({ name, size, key }, li = fileItem(name, size)) {
    Object.assign(this, { name, size, key, li });
    li.dataset.key = key;
    this.meta = li.querySelector('.file-meta');
    this.bar = Object.assign(document.createElement('progress'), { className: 'progress', max: Math.max(size, 1), value: 0 });
    this.bar.setAttribute('aria-label', `Uploading ${name}`);
    li.append(this.bar);
    [this.pauseButton, this.cancelButton] = [li.querySelector('.pause'), li.querySelector('.remove')];
    this.cancelButton.hidden = false;
    this.cancelButton.onclick = () => this.cancel();
    this.pauseButton.onclick = () => this.togglePause();
    uploads.add(this);
  }

  /** Moves to `phase`; an upload that ended leaves the set. Tells the page (its status pill) and a waiting submit. */
  set(phase) {
    this.phase = phase;
    if (ROW_STATE[phase]) this.li.dataset.state = ROW_STATE[phase];
    if (['done', 'failed', 'cancelled'].includes(phase)) uploads.delete(this);
    else this.label();
    changes.dispatchEvent(new Event('change'));
    page.onChange();
  }

  /** The row's words and buttons for its phase. */
  label() {
    const paused = this.phase === 'paused';
    const [cancel, pause] = [this.cancelButton, this.pauseButton];
    cancel.textContent = this.phase === 'shelved' ? 'Remove' : 'Cancel';
    cancel.setAttribute('aria-label', `${this.phase === 'shelved' ? 'Remove' : 'Cancel'} the upload of ${this.name}`);
    pause.hidden = !['sending', 'waiting', 'paused'].includes(this.phase);
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-label', `${pause.textContent} the upload of ${this.name}`);
    this.show();
  }

  /** Progress: the bar, and "1.0 MB of 3.0 MB · paused". */
  show(done = this.tus?.sent ?? Number(this.bar.value)) {
    this.bar.value = done;
    this.bar.setAttribute('aria-valuetext', `${Math.floor((done / Math.max(this.size, 1)) * 100)}%`);
    const note = { paused: ' · paused', waiting: ' · waiting for the connection' }[this.phase] ?? '';
    const at = done ? ` at ${formatSize(done)} of ${formatSize(this.size)}` : '';
    if (this.phase === 'shelved') this.meta.textContent = `Paused${at}. Drop or choose the file again to resume.`;
    else this.meta.textContent = `${formatSize(done)} of ${formatSize(this.size)}${note}`;
  }

  togglePause() {
    if (!this.tus) return;
    if (this.phase === 'paused') return this.resume();
    this.set('paused');
    announce(`${this.name} paused.`);
    this.tus.pause().then(() => this.show()); // shows what the server holds
  }

  resume() {
    if (this.phase !== 'paused') return;
    this.set('sending');
    announce(`${this.name} resumed.`);
    this.#resume?.();
  }

  async cancel() {
    const shelved = this.phase === 'shelved';
    this.cancelButton.disabled = true;
    await this.drop();
    announce(shelved ? `${this.name} removed.` : `Upload of ${this.name} cancelled.`);
  }

  /** Stops for good, and asks the server to drop what it has. */
  async drop() {
    const phase = this.phase;
    this.set('cancelled');
    this.#resume?.();
    if (this.tus) await this.tus.abort();
    else if (phase === 'shelved') await Promise.all([terminate(this.url, { getToken: page.getToken }), unshelve(this.draftId, this.key)]);
    this.li.remove();
  }

  /** Uploads `file` (or resumes it, when the shelf has its address) until the server has it all. */
  async run(file) {
    const { client, getToken } = page;
    try {
      this.set('sending');
      const endpoint = await client.uploadsPath();
      if (this.phase === 'cancelled') return;
      this.tus = new TusUpload(file, { endpoint, getToken, storage: shelfStorage(client.draft.id, file) });
      this.tus.addEventListener('progress', () => (this.phase === 'waiting' ? this.set('sending') : this.show()));
      this.tus.addEventListener('waiting', () => this.set('waiting'));
      this.tus.addEventListener('expired', () => announce(`The part of ${this.name} uploaded earlier has expired on the server: it is uploaded again from the start.`));
      const fileId = await this.#untilDone();
      // The file as the service lists it (its course too); if the list cannot be
      // read now, what the upload itself says is enough to show it.
      const files = await client.listFiles().catch(() => []);
      const stored = files.find((f) => f.id === fileId) ?? { id: fileId, originalName: file.name, sizeBytes: file.size };
      if (stored.courseId) client.fileStored(stored);
      showUploaded(this.li, stored);
      this.set('done');
      announce(`${file.name} uploaded.`);
    } catch (err) {
      if (this.phase !== 'cancelled') this.fail(err);
    }
  }

  async #untilDone() {
    for (;;) {
      try {
        return await this.tus.start();
      } catch (err) {
        if (err.name !== 'AbortError' || this.phase === 'cancelled') throw err;
        // Paused: until Resume (unless it was clicked before the cut chunk ended).
        if (this.phase === 'paused') await new Promise((r) => (this.#resume = r));
        this.#resume = null;
        if (this.phase === 'cancelled') throw err;
      }
    }
  }

  fail(err) {
    this.bar.remove();
    this.set('failed');
    this.pauseButton.hidden = true;
    this.meta.textContent = 'Not added';
    const box = Object.assign(document.createElement('div'), { className: 'file-problem' });
    this.li.append(box);
    const text = showRefusal(box, err);
    announce(`${this.name}: ${text}`);
    const dismiss = this.cancelButton;
    dismiss.disabled = false;
    dismiss.textContent = 'Dismiss';
    dismiss.setAttribute('aria-label', `Dismiss ${this.name}`);
    dismiss.onclick = () => this.li.remove();
  }
}

/** Uploads a chosen or dropped file; the same file as a shelved row resumes that upload. */
function upload(file) {
  const key = keyOf(file);
  const known = [...uploads].find((u) => u.key === key);
  if (known?.phase === 'paused') return announce(`${file.name} is paused: its Resume button carries on.`);
  if (known && known.phase !== 'shelved') return announce(`${file.name} is already being uploaded.`);
  const entry = known ?? new Upload({ name: file.name, size: file.size, key });
  entry.run(file);
}

/** The rows of uploads a reload left half-way, then what the server says of each. */
async function showShelved(draftId) {
  for (const saved of shelved(draftId)) {
    const entry = new Upload({ name: saved.name, size: saved.size, key: keyOf(saved) });
    Object.assign(entry, { url: saved.url, draftId });
    entry.set('shelved');
    probe(saved.url, { getToken: page.getToken }).then(
      (at) => {
        if (entry.phase !== 'shelved') return;
        if (at) return entry.show(at.offset);
        unshelve(draftId, entry.key);
        entry.meta.textContent = 'The part uploaded earlier has expired on the server. Drop or choose the file again to upload it from the start.';
        entry.url = null;
      },
      () => {}, // offline: the row says what the page knows
    );
  }
}

/** Lists the draft's stored files and its unfinished uploads (after a reload, or on switching drafts). */
export async function showFiles() {
  for (const u of [...uploads]) if (u.phase === 'shelved') uploads.delete(u);
  fileList.replaceChildren(...[...uploads].map((u) => u.li));
  const draft = page.client.draft;
  if (draft?.courseId) {
    try {
      for (const meta of await page.client.listFiles()) showUploaded(fileItem(meta.originalName, meta.sizeBytes), meta);
    } catch {
      /* the list is a convenience; the files are safe on the server */
    }
  }
  if (draft) await showShelved(draft.id);
  page.onChange();
}

/**
 * The save status the page shows: a file still uploading is unsaved work, so
 * "Saved" (or the idle "Autosave on") waits for it.
 * @param {import('/draft-client.js').SaveState} state  the form's own
 */
export function pillState(state) {
  if (state !== 'saved' && state !== 'idle') return state;
  const phases = new Set([...uploads].map((u) => u.phase));
  if (phases.has('waiting')) return 'offline';
  if (phases.has('sending')) return 'saving';
  if (phases.has('paused') || phases.has('shelved')) return 'pending';
  return state;
}

/**
 * Before a submit: waits for the uploads in flight, asks about paused ones.
 * @param {HTMLButtonElement} button  says "Finishing 1 upload…" meanwhile
 * @returns {Promise<boolean>} true: submit now
 */
export function uploadsSettled(button) {
  return settle({ pending: () => [...uploads], changes, button, announce, onNotice: page.onNotice });
}

/**
 * Wires the file area to the page.
 * @param {object} options
 * @param {import('/draft-client.js').DraftClient} options.client
 * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
 * @param {() => void} options.onChange  an upload changed phase: the page renders again
 * @param {(notice: {kind: string, text: string}) => void} options.onNotice  something to say above the form
 * @param {() => boolean} options.locked  the form takes no more input (submitted)
 */
export function setUpFiles(options) {
  page = options;
  sweep();
  const dropzone = $('#dropzone');
  const fileInput = $('#file-input');
  fileInput.addEventListener('change', () => {
    [...fileInput.files].forEach(upload);
    fileInput.value = ''; // choosing the same file again fires change again
  });
  for (const type of ['dragenter', 'dragover']) {
    dropzone.addEventListener(type, (e) => {
      e.preventDefault();
      dropzone.classList.add('over');
    });
  }
  dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
  dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    dropzone.classList.remove('over');
    if (!page.locked()) [...e.dataTransfer.files].forEach(upload);
  });
  // A file dropped beside the zone must not replace the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  // Leaving while a file is on its way asks first (a paused one waits on the shelf).
  window.addEventListener('beforeunload', (e) => {
    if ([...uploads].some((u) => u.phase === 'sending' || u.phase === 'waiting')) {
      e.preventDefault();
      e.returnValue = '';
    }
  });
}
