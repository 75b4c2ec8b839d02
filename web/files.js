// The page's file area: the list of the draft's files, uploads (resumable, by
// tus) with their progress, Pause/Resume and Cancel, and the drop zone.
import { TusUpload } from '/tus-upload.js';
import { showRefusal } from '/upload-problem.js';

const $ = (selector) => document.querySelector(selector);
const fileList = $('#file-list');
const uploadStatus = $('#upload-status');

/** What the page lends the file area: set by {@link setUpFiles}. */
let page = null;

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
      uploadStatus.textContent = `${meta.originalName} removed.`;
    } catch (err) {
      remove.disabled = false;
      page.onNotice({ kind: 'error', text: `Could not remove ${meta.originalName}: ${err.message}` });
    }
  };
}

/**
 * Uploads one file resumably (tus): a progress bar, Pause/Resume, Cancel; a
 * dropped connection only pauses it until the network is back.
 */
async function upload(file) {
  const { client, getToken } = page;
  const li = fileItem(file.name, file.size);
  li.dataset.state = 'uploading';
  const meta = li.querySelector('.file-meta');
  const bar = Object.assign(document.createElement('progress'), { className: 'progress', max: Math.max(file.size, 1), value: 0 });
  bar.setAttribute('aria-label', `Uploading ${file.name}`);
  li.append(bar);
  const [pause, cancel] = [li.querySelector('.pause'), li.querySelector('.remove')];
  pause.hidden = cancel.hidden = false;
  cancel.textContent = 'Cancel';
  cancel.setAttribute('aria-label', `Cancel the upload of ${file.name}`);
  pause.setAttribute('aria-label', `Pause the upload of ${file.name}`);
  uploadStatus.textContent = `Uploading ${file.name}.`;
  let tus = null;
  let resume = null;
  const shown = () => {
    const done = tus ? tus.sent : 0;
    bar.value = done;
    bar.setAttribute('aria-valuetext', `${Math.floor((done / Math.max(file.size, 1)) * 100)}%`);
    meta.textContent = `${formatSize(done)} of ${formatSize(file.size)}${tus?.paused ? ' · paused' : ''}`;
  };
  pause.onclick = () => {
    if (!tus) return;
    if (tus.paused) {
      pause.textContent = 'Pause';
      pause.setAttribute('aria-label', `Pause the upload of ${file.name}`);
      resume?.();
    } else {
      tus.pause();
      pause.textContent = 'Resume';
      pause.setAttribute('aria-label', `Resume the upload of ${file.name}`);
      uploadStatus.textContent = `${file.name} paused.`;
    }
    shown();
  };
  cancel.onclick = async () => {
    cancel.disabled = true;
    await tus?.abort();
    li.remove();
    uploadStatus.textContent = `Upload of ${file.name} cancelled.`;
  };
  try {
    tus = new TusUpload(file, { endpoint: await client.uploadsPath(), getToken });
    tus.addEventListener('progress', () => {
      li.dataset.state = 'uploading';
      shown();
    });
    tus.addEventListener('waiting', () => {
      li.dataset.state = 'waiting';
      meta.textContent = `${formatSize(tus.sent)} of ${formatSize(file.size)} · waiting for the connection`;
    });
    let fileId;
    for (;;) {
      try {
        fileId = await tus.start();
        break;
      } catch (err) {
        if (err.name !== 'AbortError' || !li.isConnected) throw err;
        await new Promise((r) => (resume = r)); // paused: until Resume
      }
    }
    // The file as the service lists it (its course too); if the list cannot be
    // read now, what the upload itself says is enough to show it.
    const files = await client.listFiles().catch(() => []);
    const stored = files.find((f) => f.id === fileId) ?? { id: fileId, originalName: file.name, sizeBytes: file.size };
    if (stored.courseId) client.fileStored(stored);
    showUploaded(li, stored);
    uploadStatus.textContent = `${file.name} uploaded.`;
  } catch (err) {
    if (!li.isConnected) return; // cancelled
    li.dataset.state = 'failed';
    bar.remove();
    pause.hidden = true;
    meta.textContent = 'Not added';
    const box = Object.assign(document.createElement('div'), { className: 'file-problem' });
    li.append(box);
    uploadStatus.textContent = `${file.name}: ${showRefusal(box, err)}`;
    cancel.disabled = false;
    cancel.textContent = 'Dismiss';
    cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
    cancel.onclick = () => li.remove();
  } finally {
    page.onChange();
  }
}

/** Lists the draft's stored files (after a reload, or on switching drafts). */
export async function showFiles() {
  fileList.replaceChildren();
  if (!page.client.draft?.courseId) return;
  try {
    for (const meta of await page.client.listFiles()) showUploaded(fileItem(meta.originalName, meta.sizeBytes), meta);
  } catch {
    /* the list is a convenience; the files are safe on the server */
  }
}

/**
 * Wires the file area to the page.
 * @param {object} options
 * @param {import('/draft-client.js').DraftClient} options.client
 * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
 * @param {() => void} options.onChange  an upload ended: the page renders again
 * @param {(notice: {kind: string, text: string}) => void} options.onNotice  something to say above the form
 * @param {() => boolean} options.locked  the form takes no more input (submitted)
 */
export function setUpFiles(options) {
  page = options;
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
}
