/**
 * The edit journal: every unacknowledged edit of a form, kept in IndexedDB on
 * every input, so that a closed tab, a killed browser or a lost connection
 * loses nothing. IndexedDB, not localStorage: Chromium writes localStorage to
 * disk seconds after a change and rate-limits its commits, while an IndexedDB
 * transaction is durable once it completes.
 *
 * One record per journal, keyed `<user>:<journal id>`: the user (the token's
 * `sub` and `org_id`, never the token), the draft id once the draft exists
 * (until then the journal is keyed by a local id and carries the create's
 * Idempotency-Key), the version the edits rest on, the unacknowledged fields,
 * and an expiry (the draft TTL). A tab holds a Web Lock named after its
 * journal for as long as it lives; a journal whose lock is free belongs to a
 * tab that is gone, and the next page load replays it.
 *
 * @module journal
 */

const DB = 'draftd-journal';
const STORE = 'journals';
/** The draft TTL: a journal is personal data, kept no longer than its draft. */
export const JOURNAL_TTL_MS = 24 * 3600 * 1000;

let opened = null;
function db() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'key' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Runs `fn(store)` in a transaction; resolves once it is durable (`oncomplete`). */
async function tx(mode, fn) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const t = database.transaction(STORE, mode, { durability: 'strict' });
    let result;
    const request = fn(t.objectStore(STORE));
    if (request) request.onsuccess = () => (result = request.result);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** The user a token names, `<sub>:<org_id>`, read from its payload (not verified: only a label). */
export function userOf(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return `${payload.sub}:${payload.org_id ?? ''}`;
  } catch {
    return null;
  }
}

export const lockName = (key) => `draftd-journal:${key}`;

/** Writes a journal record whole (`{key, user, draftId, localId, idempotencyKey, baseVersion, fields}`). */
export function put(record) {
  return tx('readwrite', (store) => store.put({ ...record, expiresAt: Date.now() + JOURNAL_TTL_MS }));
}

export function remove(key) {
  return tx('readwrite', (store) => store.delete(key));
}

/** Every journal of `user`; expired ones are deleted on the way. */
export async function ofUser(user) {
  const all = (await tx('readonly', (store) => store.getAll())) || [];
  const now = Date.now();
  const expired = all.filter((r) => r.expiresAt < now);
  if (expired.length) await tx('readwrite', (store) => void expired.forEach((r) => store.delete(r.key)));
  return all.filter((r) => r.expiresAt >= now && r.user === user);
}

/**
 * Holds the Web Lock of journal `key` until `release` resolves.
 * @returns {Promise<void>} once the lock is held
 */
export function hold(key, release) {
  if (!navigator.locks) return Promise.resolve();
  return new Promise((held) => {
    navigator.locks.request(lockName(key), () => {
      held();
      return release;
    });
  });
}

/**
 * Runs `fn` holding journal `key`'s lock if no live tab holds it; resolves
 * `false` without running it otherwise.
 */
export function ifOrphaned(key, fn) {
  if (!navigator.locks) return fn().then(() => true);
  return navigator.locks.request(lockName(key), { ifAvailable: true }, async (lock) => {
    if (!lock) return false;
    await fn();
    return true;
  });
}
