/**
 * A {@link module:draft-client.DraftClient}'s unacknowledged edits kept beyond
 * the tab: in sessionStorage for a reload, in the edit journal (journal.js:
 * whose journal it is, its ids and lock, written as the edits change), and
 * sent with `keepalive` when the page goes away. A journal a tab left behind
 * is replayed by journal-replay.js.
 *
 * @module draft-journal
 */

import * as journal from './journal.js';
import { applyMergePatch, versionOf } from './api.js';
import { same } from './draft-state.js';

export class DraftJournal {
  /** the last bearer token, for the keepalive save when the page goes away */
  token = null;
  /** `<sub>:<org_id>` of the token: whose journal this is */
  user = null;
  /** this tab's journal: a local id until (and after) the draft exists */
  localId = crypto.randomUUID();
  /** the create's Idempotency-Key, so that a replayed create opens one draft */
  idempotencyKey = crypto.randomUUID();
  /** each field's value on the service when it was first edited (the journal's base) */
  base = new Map();
  #chain = Promise.resolve();
  #releaseLock = null;

  /** @param {boolean} enabled  journal in IndexedDB at all */
  constructor(enabled) {
    this.enabled = enabled;
  }

  get key() {
    return `${this.user}:${this.localId}`;
  }

  /** A token was fetched: kept for the exit save; the first one names the journal's user. */
  takeToken(token) {
    this.token = token;
    if (!this.user) {
      this.user = journal.userOf(token);
      this.hold();
    }
  }

  /** Writes the journal as it is now, in order; an acknowledged journal is dropped. */
  write(state, edits) {
    if (!this.enabled || !this.user || state.draft?.status === 'submitted') return;
    const key = this.key;
    const draft = state.open;
    for (const field of this.base.keys()) if (!(field in edits)) this.base.delete(field);
    const record = {
      key,
      user: this.user,
      draftId: draft?.id ?? null,
      localId: this.localId,
      idempotencyKey: this.idempotencyKey,
      versions: state.versions(),
      fields: edits,
      base: Object.fromEntries(this.base),
    };
    const empty = !Object.keys(edits).length;
    this.#chain = this.#chain
      .then(() => (empty ? journal.remove(key) : journal.put(record)))
      .catch(() => {}); // no IndexedDB (private mode, quota): sessionStorage still has it
  }

  /** Takes this tab's journal lock, held as long as the tab lives on this journal. */
  async hold() {
    if (!this.enabled || !this.user || this.#releaseLock) return;
    const released = new Promise((resolve) => (this.#releaseLock = resolve));
    // A reload waits a moment for the page it replaces to let go of the lock.
    const held = journal.hold(this.key, released).catch(() => {});
    await Promise.race([held, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }

  forget() {
    if (!this.enabled || !this.user) return;
    const key = this.key;
    this.base = new Map();
    this.#chain = this.#chain.then(() => journal.remove(key)).catch(() => {});
  }

  /** A fresh journal (another draft): a new local id, key and lock. */
  renew() {
    this.#releaseLock?.();
    this.#releaseLock = null;
    this.localId = crypto.randomUUID();
    this.idempotencyKey = crypto.randomUUID();
    this.hold();
  }
}

/**
 * Reads what this tab kept for a reload (sessionStorage): the draft id, the
 * unacknowledged edits (pending again) and the journal's ids; then whose
 * journal it is, by the token.
 * @param {object} c  the client's inside (see DraftClient)
 */
export async function restoreKept(c) {
  const { s, o, journal: j } = c;
  try {
    const saved = JSON.parse(o.storage?.getItem(o.storageKey) || '{}');
    s.storedId = saved.id || null;
    if (saved.localId) j.localId = saved.localId;
    if (saved.idempotencyKey) j.idempotencyKey = saved.idempotencyKey;
    for (const [field, value] of Object.entries(saved.edits || {})) s.pending.set(field, value);
  } catch {
    /* unreadable storage: start afresh */
  }
  try {
    j.token = await o.getToken({ refresh: false });
    j.user = journal.userOf(j.token);
  } catch {
    /* offline: the journal starts with the first token */
  }
}

/** Keeps the draft id and every unacknowledged edit in storage, for a reload; and in the journal. */
export function keep(c) {
  const { s, o, journal: j } = c;
  const edits = s.unsaved();
  try {
    o.storage?.setItem(o.storageKey, JSON.stringify({
      id: s.draft?.id ?? s.storedId, edits, localId: j.localId, idempotencyKey: j.idempotencyKey,
    }));
  } catch {
    /* storage full or disabled: the draft still lives on the service */
  }
  j.write(s, edits);
}

/**
 * `pagehide` / `visibilitychange`: every unacknowledged edit goes out now, with
 * `keepalive`; the journal keeps it should that fail.
 * @param {object} c  the client's inside (see DraftClient)
 */
export function saveOnExit(c) {
  const { s, journal: j } = c;
  const fields = s.unacknowledged();
  if (!Object.keys(fields).length || !j.token || s.draft?.status === 'submitted') return;
  const draft = s.open;
  const headers = { Authorization: `Bearer ${j.token}`, Accept: 'application/json, application/problem+json' };
  let url, init;
  if (draft) {
    url = c.path();
    headers['Content-Type'] = 'application/merge-patch+json';
    headers['If-Match'] = s.versions().map((v) => `"${v}"`).join(', ');
    headers.Prefer = 'return=minimal';
    init = { method: 'PATCH', body: JSON.stringify({ formData: fields }) };
  } else {
    url = '/api/v1/drafts';
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = j.idempotencyKey;
    init = { method: 'POST', body: JSON.stringify({ formData: applyMergePatch({}, fields) }) };
  }
  // keepalive bodies are limited to 64 KiB in all; the journal keeps what does not fit.
  if (new Blob([init.body]).size > 60 * 1024) return;
  c.o.fetch(c.o.baseUrl + url, { ...init, headers, keepalive: true })
    .then((res) => res.ok && c.run(() => acknowledgeExitSave(c, fields, res, draft)))
    .catch(() => {}); // the journal replays it on the next load
}

/** The page stayed after its keepalive save was answered: take the acknowledgement. */
async function acknowledgeExitSave(c, fields, res, draft) {
  const { s } = c;
  if (draft) {
    const version = versionOf(res.headers.get('ETag'));
    if (s.draft?.id !== draft.id || !(version === s.draft.version + 1) || s.inflight) return;
    s.draft = { ...s.draft, version, formData: applyMergePatch(s.draft.formData, fields) };
  } else {
    if (s.draft) return;
    s.accept(await res.json());
    s.storedId = s.draft.id;
  }
  for (const [field, value] of Object.entries(fields)) if (same(s.pending.get(field), value)) s.pending.delete(field);
  if (!s.pending.size) c.cancelTimer();
  s.saved = true;
  c.persist();
  c.emit('state');
}
