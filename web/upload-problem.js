/**
 * Why a file was not added, in plain words, from the problem the service
 * answered (its status, `type`, `detail`, `limit`); the technical detail stays
 * available in a disclosure.
 *
 * @module upload-problem
 */

/** The accepted types (the page's own list), as a person names them. */
const KINDS = {
  'application/pdf': 'a PDF',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'a Word document',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'a PowerPoint presentation',
  'text/plain': 'a text file',
  'text/markdown': 'a Markdown file',
};
const ALLOWED = 'PDF, Word (.docx), PowerPoint (.pptx), text and Markdown files';
const NOT_ADDED = 'so it wasn’t added.';

const kind = (type) => KINDS[type] ?? `of type ${type}`;

/** 104857600 -> "100 MB" */
function megabytes(bytes) {
  const mb = bytes / (1024 * 1024);
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}

/** The service's wording of a mismatch (docs/api.md, Files): "declared A, detected B", "declared A, but the file name has the extension .x (…)". */
function mismatch(detail) {
  const declared = /^declared (\S+?),/.exec(detail)?.[1];
  if (!declared) return null;
  const extension = /the extension (\.[^\s(;]+)/.exec(detail)?.[1];
  if (extension) return `Its name ends in ${extension}, which doesn’t fit ${kind(declared)}, ${NOT_ADDED}`;
  return `This file isn’t ${kind(declared)}, ${NOT_ADDED}`;
}

function quota(problem) {
  const detail = problem.detail || '';
  if (/files already/.test(detail)) return `A course can hold ${problem.limit ?? 'only so many'} files, and this one is full, ${NOT_ADDED}`;
  if (/RESERVED_BYTES/.test(detail)) return 'Too many unfinished uploads: finish or remove one, then add this file again.';
  return `Your organization’s storage is full, ${NOT_ADDED}`;
}

/**
 * @param {{status?: number, message: string, problem?: object, name?: string}} err  an UploadError,
 *   a ProblemError, or an OfflineError (no status)
 * @returns {{text: string, detail: string}} the sentence, and the technical detail
 */
export function refusal(err) {
  const problem = err.problem || {};
  const detail = err.status ? `HTTP ${err.status}${problem.type ? ` ${problem.type}` : ''}: ${err.message}` : err.message;
  const type = problem.type || '';
  let text;
  if (!err.status) text = 'Not uploaded: the server cannot be reached. Try again later.';
  else if (err.status === 413) {
    const limit = Number(/larger than (\d+) bytes/.exec(err.message)?.[1]);
    text = limit ? `Too large: the limit is ${megabytes(limit)}.` : 'Too large to add.';
  } else if (err.status === 415) text = mismatch(err.message) ?? `Files of this type can’t be added (allowed: ${ALLOWED}).`;
  else if (type.endsWith('quota-exceeded')) text = quota(problem);
  else if (err.status === 409) text = `The course can’t take files any more (it was submitted or deleted), ${NOT_ADDED}`;
  else if (err.status === 410) text = `This draft was discarded, ${NOT_ADDED}`;
  else if (err.status === 422) text = `It wasn’t added: ${String(Object.values(problem.errors || {}).flat()[0] || err.message).replace(/\.$/, '')}.`;
  else if (err.status === 403) text = 'Files can’t be added with your current access. Reload the page, or sign in again.';
  else text = `It wasn’t added: ${err.message.replace(/\.$/, '')}.`;
  return { text, detail };
}

/**
 * Shows a refusal in `box`: the sentence, then the detail in a closed `<details>`.
 * @param {HTMLElement} box
 * @param {Parameters<typeof refusal>[0]} err
 * @returns {string} the sentence (to announce)
 */
export function showRefusal(box, err) {
  const { text, detail } = refusal(err);
  const sentence = Object.assign(document.createElement('p'), { className: 'problem-text', textContent: text });
  const more = Object.assign(document.createElement('details'), { className: 'problem-detail' });
  more.append(Object.assign(document.createElement('summary'), { textContent: 'Details' }), Object.assign(document.createElement('code'), { textContent: detail }));
  box.replaceChildren(sentence, more);
  return text;
}
