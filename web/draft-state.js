/**
 * What a {@link module:draft-client.DraftClient} knows: the service's last word
 * on the draft, and the person's edits around it (waiting, in flight, refused by
 * the service, or contested by another writer), from which it derives the save
 * state, the form to show and what blocks a submit. No requests, no timers.
 *
 * @module draft-state
 */

import { applyMergePatch, OfflineError, ProblemError, versionOf } from './api.js';

/** The draft is gone: expired or not found (404), or discarded (410). */
export const GONE = new Set([404, 410]);

export const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The save state shown to the user: `saving` only while a request is in
 * flight, `pending` while edits wait for their save, `saved` only when the
 * service holds every edit.
 * `invalid`: everything is saved but the fields the service refused.
 * @typedef {'idle'|'pending'|'saving'|'saved'|'invalid'|'offline'|'conflict'|'error'|'submitted'} SaveState
 */

/**
 * A draft as the service returns it.
 * @typedef {object} Draft
 * @property {string} id
 * @property {number} version  rises by one with every accepted autosave; the ETag
 * @property {'open'|'materialized'|'submitted'} status
 * @property {string|null} courseId  set once a file was uploaded or the form submitted
 * @property {string|null} courseSlug
 * @property {string} expiresAt
 * @property {Object<string, *>} formData
 */

export class DraftState {
  /** @type {Draft|null} the service's last word on the draft */
  draft = null;
  /** @type {string|null} the id found in sessionStorage, until it is opened */
  storedId = null;
  /** the draft answered 404: the next step opens a new one with the local data */
  lost = false;
  /** @type {Map<string, *>} edits not sent yet (null: remove the field) */
  pending = new Map();
  /** @type {Map<string, *>|null} edits of the request in flight */
  inflight = null;
  /** @type {Map<string, {value: *, messages: string[]}>} edits the service refused (422) */
  rejected = new Map();
  /** @type {Map<string, {mine: *, theirs: *}>} fields another writer changed under an edit of this one */
  contested = new Map();
  offline = false;
  conflict = false;
  /** @type {Error|null} an unexpected failure, cleared by the next success */
  failure = null;
  saved = false;
  /** retries since the service last answered */
  attempt = 0;
  /** start() reopened the draft this tab had (a reload), rather than a new one */
  restored = false;
  /** when the oldest edit not yet sent was made (the maximum wait counts from it) */
  firstPendingAt = null;

  /** The draft, unless it is lost. */
  get open() {
    return this.draft && !this.lost ? this.draft : null;
  }

  /** @returns {SaveState} */
  get state() {
    if (this.draft?.status === 'submitted') return 'submitted';
    if (this.offline) return 'offline';
    if (this.conflict || this.contested.size) return 'conflict';
    if (this.failure) return 'error';
    if (this.inflight) return 'saving';
    if (this.pending.size) return 'pending';
    if (this.rejected.size) return 'invalid';
    return this.saved ? 'saved' : 'idle';
  }

  get errors() {
    return Object.fromEntries([...this.rejected].map(([field, r]) => [field, r.messages]));
  }

  get conflicts() {
    return Object.fromEntries([...this.contested].map(([field, c]) => [field, { ...c }]));
  }

  /** The draft's form with local edits on top; `withRejected` adds the refused ones (null: removed). */
  local(withRejected) {
    const view = { ...this.draft?.formData };
    if (withRejected) for (const [field, r] of this.rejected) view[field] = r.value;
    for (const [field, c] of this.contested) view[field] = c.mine;
    for (const [field, value] of this.inflight || []) view[field] = value;
    for (const [field, value] of this.pending) view[field] = value;
    return view;
  }

  /** What the form should show: the draft plus local edits, removed fields gone. */
  get formData() {
    return applyMergePatch({}, this.local(true));
  }

  /** Every edit the service has not acknowledged, refused ones included. */
  unacknowledged() {
    return Object.fromEntries([
      ...[...this.rejected].map(([field, r]) => [field, r.value]),
      ...(this.inflight || []),
      ...this.pending,
    ]);
  }

  /** What a reload must find again: every unacknowledged edit, contested ones too. */
  unsaved() {
    return Object.fromEntries([
      ...[...this.rejected].map(([field, r]) => [field, r.value]),
      ...[...this.contested].map(([field, c]) => [field, c.mine]),
      ...(this.inflight || []),
      ...this.pending,
    ]);
  }

  /** Versions a save of the unacknowledged edits may rest on (the one in flight may land first). */
  versions() {
    const draft = this.open;
    return draft ? [draft.version, ...(this.inflight ? [draft.version + 1] : [])] : [];
  }

  /** Takes the service's draft; the service answered, so we are not offline. */
  accept(draft) {
    this.draft = draft;
    this.offline = false;
    this.attempt = 0;
  }

  /** Drops every edit (another draft, or none). */
  clearEdits() {
    this.pending = new Map();
    this.rejected = new Map();
    this.contested = new Map();
  }

  /**
   * The draft after a minimal answer to a patch: the patch merged into the
   * form, at the version of the answer's ETag.
   * @param {Map<string, unknown>} patch
   * @param {string | null | undefined} etag  `"<version>"`
   */
  merged(patch, etag) {
    const formData = applyMergePatch(this.draft.formData, patch);
    const tagged = versionOf(etag);
    const version = Number.isNaN(tagged) ? this.draft.version + 1 : tagged;
    return { ...this.draft, formData, version, updatedAt: new Date().toISOString() };
  }

  /**
   * After another writer's change (`before`: the form as this client knew it):
   * each field it changed that this client holds an unsaved edit of, or that
   * the person is in (`editing`), is held for the person to choose.
   */
  contest(before, editing) {
    const after = this.draft.formData;
    for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (same(before[field], after[field])) continue;
      const theirs = after[field] ?? null;
      const held = this.contested.get(field);
      let mine;
      if (held) mine = held.mine;
      else if (this.pending.has(field)) mine = this.pending.get(field);
      else if (field === editing) mine = before[field] ?? null;
      else continue;
      this.pending.delete(field);
      if (same(mine, theirs)) this.contested.delete(field);
      else this.contested.set(field, { mine, theirs });
    }
  }

  /**
   * Takes the person's edit of one field (`null`: removed): held while the
   * field is contested (the edit waits for their choice), pending otherwise.
   * @returns {'held'|'pending'|null} null: the form already shows it
   */
  edit(field, next) {
    if (same(this.local(true)[field], next)) return null;
    const contest = this.contested.get(field);
    if (contest) {
      if (same(contest.theirs, next)) this.contested.delete(field);
      else contest.mine = next;
      return 'held';
    }
    this.rejected.delete(field);
    if (!this.pending.size) this.firstPendingAt = Date.now();
    this.pending.set(field, next);
    return 'pending';
  }

  /**
   * Ends the contest of one field; `mine` puts this client's text back among
   * the pending edits, on top of the other writer's.
   * @returns {{mine: *, theirs: *}|null} the contest, when its `mine` is pending now
   */
  resolve(field, choice) {
    const contest = this.contested.get(field);
    if (!contest) return null;
    this.contested.delete(field);
    if (choice !== 'mine' || same(contest.mine, this.draft?.formData?.[field])) return null;
    if (!this.pending.size) this.firstPendingAt = Date.now();
    this.pending.set(field, contest.mine);
    return contest;
  }

  /** Why nothing more can be saved or submitted now. */
  blocker() {
    if (this.draft?.status === 'submitted') return new ProblemError(409, { detail: 'this course was already submitted' });
    if (this.offline) return new OfflineError();
    if (this.contested.size) {
      return new ProblemError(409, { title: 'Conflict', detail: `choose which version to keep of ${[...this.contested.keys()].join(', ')}` });
    }
    if (this.rejected.size) return new ProblemError(422, { title: 'Validation failed', errors: this.errors });
    return this.failure || new ProblemError(412, { title: 'The draft changed elsewhere' });
  }
}
