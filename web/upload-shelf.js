/**
 * The unfinished uploads of each draft, kept in `localStorage` so that a reload
 * (or the same draft continued in another tab) can name them and resume them:
 * per entry the file's name, size, date and type, and the upload's tus address.
 * Never the token. An entry goes when its upload finishes, is refused, removed or
 * found expired, and after the draft's lifetime in any case.
 *
 * @module upload-shelf
 */

const PREFIX = 'draftd.uploads:';
/** The draft TTL: no upload outlives its draft. */
const KEEP_MS = 24 * 3600 * 1000;

/**
 * An unfinished upload of a draft.
 * @typedef {{name: string, size: number, lastModified: number, type: string, url: string, at: number}} Shelved
 */

/** What tells one chosen file from another: the same file chosen again has the same key. */
export const keyOf = (file) => `${file.name}:${file.size}:${file.lastModified}`;

function read(draftId) {
  try {
    const list = JSON.parse(localStorage.getItem(PREFIX + draftId) || '[]');
    return Array.isArray(list) ? list.filter((e) => e && typeof e.url === 'string' && Date.now() - e.at < KEEP_MS) : [];
  } catch {
    return []; // no storage, or not ours: nothing to resume
  }
}

function write(draftId, list) {
  try {
    if (list.length) localStorage.setItem(PREFIX + draftId, JSON.stringify(list));
    else localStorage.removeItem(PREFIX + draftId);
  } catch {
    /* no storage: resumable within this page only */
  }
}

/**
 * @param {string} draftId
 * @returns {Shelved[]} the draft's unfinished uploads, oldest first
 */
export function shelved(draftId) {
  return read(draftId);
}

/** Forgets one unfinished upload of a draft, by its file's key. */
export function unshelve(draftId, key) {
  write(draftId, read(draftId).filter((e) => keyOf(e) !== key));
}

/**
 * The storage a {@link module:tus-upload.TusUpload} of `file` keeps its address in:
 * this shelf, under the file's key (the upload's own key is not needed).
 * @param {string} draftId
 * @param {File} file
 * @returns {Pick<Storage, 'getItem'|'setItem'|'removeItem'>}
 */
export function shelfStorage(draftId, file) {
  const key = keyOf(file);
  return {
    getItem: () => read(draftId).find((e) => keyOf(e) === key)?.url ?? null,
    setItem: (_, url) => {
      const { name, size, lastModified, type } = file;
      write(draftId, [...read(draftId).filter((e) => keyOf(e) !== key), { name, size, lastModified, type, url, at: Date.now() }]);
    },
    removeItem: () => unshelve(draftId, key),
  };
}

/** Drops the lists of drafts past their lifetime (their uploads are gone with them). */
export function sweep() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const name = localStorage.key(i);
      if (name?.startsWith(PREFIX)) write(name.slice(PREFIX.length), read(name.slice(PREFIX.length)));
    }
  } catch {
    /* no storage */
  }
}
