/**
 * A browser client for draftd's draft sessions: keeps a form's half-written data
 * in a server-side draft, autosaves it, and survives reloads, conflicts, expired
 * drafts and a service that goes away for a while. No dependencies but its own
 * journal.js (next to it), no build step.
 *
 * ```js
 * import { DraftClient } from '/draft-client.js';
 * const client = new DraftClient({ getToken: async () => myAccessToken });
 * client.addEventListener('state', () => showStatus(client.state));
 * client.addEventListener('data', () => fillForm(client.formData));
 * await client.start();              // restores this tab's draft; a new one opens on the first edit
 * input.oninput = () => client.set('topic', input.value);   // autosaved 3 s later
 * const { courseSlug } = await client.submit();
 * ```
 *
 * Behaviour:
 * - The draft id is kept in `sessionStorage`: a reload (F5) restores the same draft,
 *   a new tab (which has its own sessionStorage) gets a new one, opened by its
 *   first edit with an `Idempotency-Key`. Edits not yet
 *   acknowledged by the service are kept there too, so a reload while offline
 *   loses nothing.
 * - Autosave sends a JSON Merge Patch of only the changed fields (`null` removes a
 *   field), `debounceMs` after the last change, with `If-Match` of the last ETag.
 *   One request is in flight at a time; changes made meanwhile go in the next one.
 * - 412 (the draft changed elsewhere, e.g. in a duplicated tab): state `conflict`.
 *   The client refetches the draft; fields the user did not touch take the other
 *   writer's values (a `data` event tells the form), the user's unsaved edits of
 *   other fields are kept and saved on top after the usual debounce.
 * - Another writer changed a field this client holds an unsaved edit of, or the
 *   field the person is in (`isEditing`): that field is contested. Its edit is
 *   held back (never saved over the other version silently), the state stays
 *   `conflict`, and {@link DraftClient#conflicts} gives both versions until the
 *   person chooses with {@link DraftClient#resolve}: `mine` saves their text over
 *   the other (with the ETag that includes it), `theirs` drops it.
 * - The network or the service is down (fetch throws or times out, 502/503/504):
 *   state `offline`, and the save is retried with exponential backoff
 *   (`retryBaseMs`, doubling, at most `retryMaxMs`, with a little jitter) until it
 *   goes through. Edits keep accumulating locally meanwhile.
 * - 404 or 410 (the draft expired, or was discarded): a new draft is opened with
 *   everything the form holds, and work carries on. Files of the lost draft's
 *   course stay with that course.
 * - 422 on autosave (a value the service refuses even while drafting, e.g. 500
 *   lessons): the refused fields are held back, reported by {@link DraftClient#errors}
 *   (state `invalid` once the other fields are saved), and sent again once the
 *   user changes them; the other fields are saved.
 * - 401: the token is fetched again (`getToken({ refresh: true })`) and the
 *   request repeated once.
 *
 * Events (plain `Event`s; read the client's getters):
 * - `state`: {@link DraftClient#state}, {@link DraftClient#errors} or
 *   {@link DraftClient#draft} may have changed.
 * - `data`: the service sent form data the form does not show yet (restore after a
 *   reload, refetch after a conflict, another tab's save); fill the form from
 *   {@link DraftClient#formData}.
 * - `remote`: another tab or device changed the draft ({@link DraftClient#applyRemote},
 *   fed by the draft's event stream); `detail` is `{type, fields}`.
 *
 * @module draft-client
 */

// Relative, so that the module also loads outside the page (Node's unit tests).
import * as journal from './journal.js';

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

/** The draft is gone: expired or not found (404), or discarded (410). */
const GONE = new Set([404, 410]);

/** An RFC 9457 problem answered by the service. */
export class ProblemError extends Error {
  /**
   * @param {number} status
   * @param {{type?: string, title?: string, detail?: string, errors?: Object<string, string[]>}|null} problem
   */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ProblemError';
    this.status = status;
    this.problem = problem || {};
    /** @type {Object<string, string[]>} messages per form field (422) */
    this.errors = problem?.errors || {};
  }
}

/** The service could not be reached (network down, timeout, 502/503/504). */
export class OfflineError extends Error {
  constructor(cause) {
    super('the service cannot be reached', { cause });
    this.name = 'OfflineError';
  }
}


/** Statuses that mean "the service is not there right now": retry later. */
const UNAVAILABLE = new Set([502, 503, 504]);

const withoutNulls = (fields) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
const isEmpty = (v) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export class DraftClient extends EventTarget {
  #o;
  /** @type {Draft|null} the service's last word on the draft */
  #draft = null;
  /** @type {string|null} the id found in sessionStorage, until it is opened */
  #storedId = null;
  /** the draft answered 404: the next step opens a new one with the local data */
  #lost = false;
  /** @type {Map<string, *>} edits not sent yet (null: remove the field) */
  #pending = new Map();
  /** @type {Map<string, *>|null} edits of the request in flight */
  #inflight = null;
  /** @type {Map<string, {value: *, messages: string[]}>} edits the service refused (422) */
  #rejected = new Map();
  /** @type {Map<string, {mine: *, theirs: *}>} fields another writer changed under an edit of this one */
  #contested = new Map();
  #offline = false;
  #conflict = false;
  /** @type {Error|null} an unexpected failure, cleared by the next success */
  #failure = null;
  #saved = false;
  #timer = null;
  #attempt = 0;
  /** requests that touch the draft run one after another */
  #queue = Promise.resolve();
  /** start() reopened the draft this tab had (a reload), rather than a new one */
  #restored = false;
  /** when the oldest edit not yet sent was made (the maximum wait counts from it) */
  #firstPendingAt = null;
  /** the last bearer token, for the keepalive save when the page goes away */
  #token = null;
  /** `<sub>:<org_id>` of the token: whose journal this is */
  #user = null;
  /** this tab's journal: a local id until (and after) the draft exists */
  #localId = crypto.randomUUID();
  /** the create's Idempotency-Key, so that a replayed create opens one draft */
  #idempotencyKey = crypto.randomUUID();
  /** each field's value on the service when it was first edited (the journal's base) */
  #base = new Map();
  #journalChain = Promise.resolve();
  #releaseLock = null;

  /**
   * @param {object} options
   * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
   *   resolves to a bearer token; `refresh` asks for a new one after a 401
   * @param {string} [options.baseUrl='']  where the API is, e.g. `https://draftd.example`
   * @param {Storage} [options.storage=sessionStorage]  where the draft id and unsaved edits live
   * @param {string} [options.storageKey='draftd.draft']
   * @param {number} [options.debounceMs=3000]  autosave this long after the last change
   * @param {number} [options.maxWaitMs=5000]  and at most this long after the first unsent one
   * @param {boolean} [options.journal]  journal every edit in IndexedDB (default: when there is one)
   * @param {number} [options.retryBaseMs=1000]  first retry delay when offline
   * @param {number} [options.retryMaxMs=30000]  longest retry delay
   * @param {number} [options.requestTimeoutMs=15000]  a JSON request taking longer counts as offline
   * @param {typeof fetch} [options.fetch]
   * @param {() => string|null} [options.isEditing]  the field the person is in, whose
   *   change by another writer is contested even without an unsaved edit
   */
  constructor(options) {
    super();
    if (typeof options?.getToken !== 'function') throw new TypeError('DraftClient needs getToken');
    this.#o = {
      baseUrl: '',
      storage: globalThis.sessionStorage,
      storageKey: 'draftd.draft',
      debounceMs: 3000,
      maxWaitMs: 5000,
      journal: typeof indexedDB !== 'undefined',
      retryBaseMs: 1000,
      retryMaxMs: 30000,
      requestTimeoutMs: 15000,
      fetch: (...args) => globalThis.fetch(...args),
      ...options,
    };
  }

  /** @returns {Draft|null} the draft as last seen from the service */
  get draft() {
    return this.#draft && !this.#lost ? { ...this.#draft } : null;
  }

  /** @returns {SaveState} */
  get state() {
    if (this.#draft?.status === 'submitted') return 'submitted';
    if (this.#offline) return 'offline';
    if (this.#conflict || this.#contested.size) return 'conflict';
    if (this.#failure) return 'error';
    if (this.#inflight) return 'saving';
    if (this.#pending.size) return 'pending';
    if (this.#rejected.size) return 'invalid';
    return this.#saved ? 'saved' : 'idle';
  }

  /** @returns {boolean} start() reopened this tab's own draft (e.g. after a reload) */
  get restored() {
    return this.#restored;
  }

  /** @returns {Error|null} why the state is `error` when no field is to blame */
  get failure() {
    return this.#failure;
  }

  /** @returns {Object<string, string[]>} messages for the edits the service refused */
  get errors() {
    return Object.fromEntries([...this.#rejected].map(([field, r]) => [field, r.messages]));
  }

  /** @returns {Object<string, {mine: *, theirs: *}>} contested fields: this client's text and the other writer's */
  get conflicts() {
    return Object.fromEntries([...this.#contested].map(([field, c]) => [field, { ...c }]));
  }

  /**
   * Ends the conflict of one field: `mine` saves this client's text over the
   * other writer's now, `theirs` takes the other writer's.
   * @param {string} field
   * @param {'mine'|'theirs'} choice
   */
  resolve(field, choice) {
    const contest = this.#contested.get(field);
    if (!contest) return;
    this.#contested.delete(field);
    if (choice === 'mine' && !same(contest.mine, this.#draft?.formData?.[field])) {
      this.#base.set(field, contest.theirs);
      if (!this.#pending.size) this.#firstPendingAt = Date.now();
      this.#pending.set(field, contest.mine);
      this.#schedule(0);
    }
    this.#persist();
    this.#emit('data');
    this.#emit('state');
  }

  /** @returns {Object<string, *>} what the form should show: the draft plus local edits */
  get formData() {
    const view = this.#local(true);
    for (const key of Object.keys(view)) if (view[key] === null) delete view[key];
    return view;
  }

  /**
   * Restores this tab's draft (and its unsaved edits); a new draft is opened by
   * the first edit, not here. Does not throw when offline: the state says so and
   * the client keeps trying.
   * @returns {Promise<Draft|null>}
   */
  async start() {
    try {
      const saved = JSON.parse(this.#o.storage?.getItem(this.#o.storageKey) || '{}');
      this.#storedId = saved.id || null;
      if (saved.localId) this.#localId = saved.localId;
      if (saved.idempotencyKey) this.#idempotencyKey = saved.idempotencyKey;
      for (const [field, value] of Object.entries(saved.edits || {})) this.#pending.set(field, value);
    } catch {
      /* unreadable storage: start afresh */
    }
    try {
      this.#token = await this.#o.getToken({ refresh: false });
      this.#user = journal.userOf(this.#token);
    } catch {
      /* offline: the journal starts with the first token */
    }
    await this.#holdJournal();
    if (this.#pending.size) {
      this.#firstPendingAt = Date.now();
      this.#emit('data');
    }
    // A visit that types nothing opens nothing: the draft opens on the first edit.
    if (this.#storedId || this.#pending.size) await this.#autosave();
    return this.draft;
  }

  /** `pagehide` / `visibilitychange`: every unacknowledged edit goes out now, with `keepalive`. */
  saveOnExit() {
    const fields = this.#unacknowledged();
    if (!Object.keys(fields).length || !this.#token || this.#draft?.status === 'submitted') return;
    const draft = this.#draft && !this.#lost ? this.#draft : null;
    const versions = draft ? [draft.version, ...(this.#inflight ? [draft.version + 1] : [])] : [];
    const headers = { Authorization: `Bearer ${this.#token}`, Accept: 'application/json, application/problem+json' };
    let url, init;
    if (draft) {
      url = this.#path();
      headers['Content-Type'] = 'application/merge-patch+json';
      headers['If-Match'] = versions.map((v) => `"${v}"`).join(', ');
      headers.Prefer = 'return=minimal';
      init = { method: 'PATCH', body: JSON.stringify({ formData: fields }) };
    } else {
      url = '/api/v1/drafts';
      headers['Content-Type'] = 'application/json';
      headers['Idempotency-Key'] = this.#idempotencyKey;
      init = { method: 'POST', body: JSON.stringify({ formData: withoutNulls(fields) }) };
    }
    // keepalive bodies are limited to 64 KiB in all; the journal keeps what does not fit.
    if (new Blob([init.body]).size > 60 * 1024) return;
    this.#o.fetch(this.#o.baseUrl + url, { ...init, headers, keepalive: true })
      .then((res) => res.ok && this.#run(() => this.#acknowledgeExitSave(fields, res, draft)))
      .catch(() => {}); // the journal replays it on the next load
  }

  /**
   * Replays journals of this user that no live tab holds (a tab closed, a
   * browser killed before their edits were acknowledged) onto their drafts.
   * @returns {Promise<Array<{kind: 'saved'|'recreated'|'discarded'|'kept', draftId?: string, conflicts?: Object<string, *>}>>}
   */
  async replayJournals() {
    if (!this.#o.journal || !this.#user) return [];
    const outcomes = [];
    let records = [];
    try {
      records = await journal.ofUser(this.#user);
    } catch {
      return [];
    }
    for (const record of records) {
      if (record.key === this.#journalKey()) continue;
      await journal.ifOrphaned(record.key, async () => {
        let outcome;
        try {
          outcome = await this.#replay(record);
        } catch (err) {
          outcome = { kind: 'kept', error: err };
        }
        if (outcome.kind !== 'kept') await journal.remove(record.key);
        outcomes.push(outcome);
      });
    }
    return outcomes;
  }

  /**
   * Records a change of one field; autosaved `debounceMs` after the last change.
   * An empty value (`''`, `[]`, `null`) removes the field.
   * @param {string} field
   * @param {*} value
   */
  set(field, value) {
    if (this.#draft?.status === 'submitted') return;
    const next = isEmpty(value) ? null : value;
    if (same(this.#local(true)[field], next)) return;
    const contest = this.#contested.get(field);
    if (contest) {
      // Still contested: the edit waits for the person's choice.
      if (same(contest.theirs, next)) this.#contested.delete(field);
      else contest.mine = next;
      this.#persist();
      this.#emit('state');
      return;
    }
    this.#rejected.delete(field);
    if (!this.#base.has(field)) this.#base.set(field, this.#draft?.formData?.[field] ?? null);
    if (!this.#pending.size) this.#firstPendingAt = Date.now();
    this.#pending.set(field, next);
    this.#persist();
    // While offline the backoff timer drives the retries; typing does not hurry it.
    // The debounce waits for a pause, the maximum wait does not: a save goes out
    // at most maxWaitMs after the first unsent edit, however steady the typing.
    if (!this.#offline) {
      const left = this.#firstPendingAt + this.#o.maxWaitMs - Date.now();
      this.#schedule(Math.max(0, Math.min(this.#o.debounceMs, left)));
    }
    this.#emit('state');
  }

  /**
   * Saves pending edits now (e.g. before leaving the page or submitting).
   * @returns {Promise<boolean>} true when everything the form holds is stored
   */
  async flush() {
    this.#cancelTimer();
    for (let conflicts = 0; ; ) {
      if (this.#draft?.status === 'submitted') return false;
      const outcome = await this.#run(() => this.#step());
      if (outcome === 'progress' || (outcome === 'done' && this.#pending.size)) continue;
      if (outcome === 'done') return this.#rejected.size === 0 && this.#contested.size === 0;
      // After a conflict the draft was refetched: saving on top may go through now.
      if (this.#conflict && !this.#offline && !this.#failure && ++conflicts < 3) continue;
      return false;
    }
  }

  /** Reads the draft again (e.g. after its course came back from the trash), then saves what waits. */
  async reload() {
    await this.#run(async () => {
      await this.#refresh();
      this.#failure = null;
    });
    this.#emit('state');
    if (this.#pending.size) this.#schedule(0);
  }

  /** Retries now instead of waiting for the backoff (e.g. on the browser's `online` event). */
  retryNow() {
    if (this.#offline || this.#pending.size) this.#schedule(0);
  }

  /**
   * Saves pending edits, then submits: strict validation, then the course row.
   * @returns {Promise<{courseId: string, courseSlug: string, status: 'submitted'}>}
   * @throws {ProblemError} 422 with `errors` per field; {@link OfflineError}
   */
  async submit() {
    for (let tries = 0; ; tries++) {
      if (!(await this.flush())) {
        const blocker = this.#blocker();
        throw blocker.status === 422 ? await this.#withStrictErrors(blocker) : blocker;
      }
      try {
        const result = await this.#run(() => this.#request('POST', `${this.#path()}/submit`));
        this.#draft = { ...this.#draft, status: 'submitted', courseId: result.courseId, courseSlug: result.courseSlug };
        this.#persist();
        this.#forgetJournal();
        this.#emit('state');
        return result;
      } catch (err) {
        if (!GONE.has(err.status) || tries > 0) throw err;
        this.#lost = true; // expired: a new draft with the same data, then submit that
      }
    }
  }

  /**
   * A refused field must not hide the other fields' errors: the service's
   * strict check of what it holds (a dry run of submit, which changes nothing)
   * joins the refused fields' messages.
   * @param {ProblemError} refused
   */
  async #withStrictErrors(refused) {
    if (!this.#draft || this.#lost) return refused;
    try {
      await this.#run(() => this.#request('POST', `${this.#path()}/submit?dryRun=true`));
    } catch (err) {
      if (err.status === 422) return new ProblemError(422, { title: 'Validation failed', errors: { ...err.errors, ...refused.errors } });
    }
    return refused;
  }

  /**
   * Uploads one file. The first file makes the draft a course row; its id is kept
   * in {@link DraftClient#draft}.courseId.
   * @param {File} file
   * @returns {Promise<{id: string, courseId: string, originalName: string, contentType: string, sizeBytes: number, sha256: string}>}
   */
  async upload(file) {
    for (let tries = 0; ; tries++) {
      await this.#ensureOpen();
      const body = new FormData();
      body.append('file', file, file.name);
      try {
        // No timeout: a large file may take minutes.
        const meta = await this.#request('POST', `${this.#path()}/files`, { body, timeout: 0 });
        if (this.#draft.courseId !== meta.courseId) {
          this.#draft = { ...this.#draft, courseId: meta.courseId, status: 'materialized' };
          this.#emit('state');
        }
        return meta;
      } catch (err) {
        if (!GONE.has(err.status) || tries > 0) throw err;
        this.#lost = true;
      }
    }
  }

  /**
   * Where resumable (tus) uploads of this draft are created; opens the draft
   * first if need be. Hand it to a {@link module:tus-upload.TusUpload}, then the
   * stored file to {@link DraftClient#fileStored}.
   * @returns {Promise<string>}
   */
  async uploadsPath() {
    await this.#ensureOpen();
    return `${this.#path()}/uploads`;
  }

  /**
   * Takes note of a file stored for this draft by another way than
   * {@link DraftClient#upload}: the first one made the course row.
   * @param {{courseId: string}} meta
   */
  fileStored(meta) {
    if (this.#draft && this.#draft.courseId !== meta.courseId) {
      this.#draft = { ...this.#draft, courseId: meta.courseId, status: this.#draft.status === 'open' ? 'materialized' : this.#draft.status };
      this.#emit('state');
    }
  }

  /** @returns {Promise<Array<{id: string, originalName: string, sizeBytes: number}>>} the draft's files */
  async listFiles() {
    await this.#ensureOpen();
    return this.#request('GET', `${this.#path()}/files`);
  }

  /** @param {string} fileId */
  async removeFile(fileId) {
    await this.#ensureOpen();
    await this.#request('DELETE', `${this.#path()}/files/${encodeURIComponent(fileId)}`);
  }

  /** Forgets this tab's draft (e.g. to start another course); the next start() opens a new one. */
  reset() {
    this.#cancelTimer();
    this.#o.storage?.removeItem(this.#o.storageKey);
    this.#forgetJournal();
  }

  /** Discards this tab's draft on the service, and its journal. */
  async discard() {
    this.#cancelTimer();
    await this.#run(async () => {
      if (this.#draft && !this.#lost) await this.#request('DELETE', this.#path());
      this.#draft = null;
      this.#storedId = null;
      this.#pending = new Map();
      this.#rejected = new Map();
      this.#contested = new Map();
      this.#saved = false;
      this.#forgetJournal();
      this.#newJournal();
      this.#persist();
    });
    this.#emit('data');
    this.#emit('state');
  }

  /**
   * Another call of the API, with the client's token handling and offline detection.
   * @returns {Promise<*>} the parsed JSON body (null for 204)
   * @throws {OfflineError|ProblemError}
   */
  request(method, path, options) {
    return this.#request(method, path, options);
  }

  /**
   * Makes this tab work on another of the user's drafts (one the page offers to
   * resume). The draft it had is discarded when nothing was ever written to it.
   * @param {string} id
   */
  async switchTo(id) {
    // What was typed here first goes into its own draft (which stays listed).
    if (this.#pending.size || this.#inflight) {
      if (!(await this.flush())) throw this.#blocker();
    }
    this.#cancelTimer();
    await this.#run(async () => {
      const current = this.#draft;
      const untouched = current && !this.#saved && !this.#pending.size && !current.courseId;
      if (untouched && current.id !== id) {
        await this.#request('DELETE', this.#path()).catch(() => {}); // else it expires by itself
      }
      this.#draft = null;
      this.#storedId = id;
      this.#lost = false;
      this.#saved = false;
      this.#conflict = false;
      this.#failure = null;
      this.#pending = new Map();
      this.#rejected = new Map();
      this.#contested = new Map();
      this.#forgetJournal();
      this.#newJournal();
      this.#persist();
    });
    await this.#autosave();
    this.#emit('data');
    this.#emit('state');
  }

  /**
   * Takes a change another tab or device made, as the draft's event stream tells
   * it (see docs/api.md, "Live changes"): `saved` merges the patch into the draft
   * (the user's own unsaved edits stay on top), `materialized` and `submitted`
   * update the draft, `discarded` ends it; `hello`, sent on each (re)connection,
   * refetches the draft if it changed meanwhile. Changes this client made itself
   * come back too, and are recognized by their version. A change of another
   * draft than this client's (a stream still open while the tab switched
   * drafts, say the discarding of the one it left) is ignored.
   * @param {string} type
   * @param {object} data
   * @param {string} draftId  the draft whose stream told it
   */
  applyRemote(type, data, draftId) {
    // After any request in flight: its answer may be the very change announced.
    return this.#run(async () => {
      const draft = this.#draft;
      if (!draft || this.#lost || draft.id !== draftId) return;
      if (type === 'discarded') {
        this.#lost = true;
        this.#emit('remote', { type, fields: [] });
        this.#emit('state');
        return;
      }
      if (type === 'materialized') {
        // The course row exists now (another tab uploaded a file): the files list can show it.
        if (draft.courseId) return;
        this.#draft = { ...draft, status: draft.status === 'open' ? 'materialized' : draft.status, courseId: data?.courseId ?? null, courseSlug: data?.courseSlug ?? null };
        this.#emit('remote', { type, fields: [] });
        this.#emit('state');
        return;
      }
      if (type === 'submitted') {
        if (draft.status === 'submitted') return; // this client's own submit, coming back
        // The final form and the course's address.
        await this.#refresh().catch(() => {
          this.#draft = { ...draft, status: 'submitted', courseId: data?.courseId ?? draft.courseId };
        });
        this.#emit('remote', { type, fields: [] });
        this.#persist();
        this.#emit('data');
        this.#emit('state');
        return;
      }
      const version = Number(data?.version);
      if (!(version > draft.version)) return; // ours, or already seen
      const patch = data?.patch?.formData ?? data?.patch;
      if (type === 'saved' && version === draft.version + 1 && patch && typeof patch === 'object') {
        const formData = { ...draft.formData };
        for (const [field, value] of Object.entries(patch)) {
          if (value === null) delete formData[field];
          else formData[field] = value;
        }
        this.#draft = { ...draft, version, formData };
        this.#contest(draft.formData);
        this.#emit('remote', { type, fields: Object.keys(patch) });
      } else {
        // A gap, or a reconnection after changes: the draft as it is now.
        const before = draft.formData;
        await this.#refresh();
        this.#contest(before);
        const fields = Object.keys({ ...before, ...this.#draft.formData }).filter((f) => !same(before[f], this.#draft.formData[f]));
        if (fields.length) this.#emit('remote', { type: 'saved', fields });
      }
      this.#persist();
      this.#emit('data');
      this.#emit('state');
    });
  }

  // --- the save loop ------------------------------------------------------

  /** Runs steps until there is nothing to do now. */
  async #autosave() {
    let outcome;
    do outcome = await this.#run(() => this.#step());
    while (outcome === 'progress');
  }

  /**
   * One request: open the draft, or send the pending edits.
   * @returns {Promise<'done'|'progress'|'wait'>} nothing left (or a timer has it),
   *   go on now, or wait for a retry or for the user
   */
  async #step() {
    if (this.#draft?.status === 'submitted') return 'done';
    try {
      if (!this.#draft || this.#lost) {
        await this.#open();
        return this.#pending.size ? 'progress' : 'done';
      }
      if (!this.#pending.size) return 'done';
      this.#inflight = this.#pending;
      this.#pending = new Map();
      this.#firstPendingAt = null;
      this.#emit('state');
      // Minimal: the service answers 204 with the new ETag, and the draft is
      // what this client had with its own patch merged in.
      const saved = await this.#request('PATCH', this.#path(), {
        json: { formData: Object.fromEntries(this.#inflight) },
        headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': `"${this.#draft.version}"` },
        minimal: true,
      });
      const sent = this.#inflight;
      this.#inflight = null;
      this.#accept(saved?.formData ? saved : this.#merged(sent, saved?.etag));
      this.#saved = true;
      this.#conflict = false;
      this.#failure = null;
      // Edits typed meanwhile have armed the debounce timer; it sends them.
      return this.#pending.size && !this.#timer ? 'progress' : 'done';
    } catch (err) {
      if (this.#inflight) {
        this.#pending = new Map([...this.#inflight, ...this.#pending]);
        this.#inflight = null;
        this.#firstPendingAt ??= Date.now();
      }
      return await this.#recover(err);
    } finally {
      this.#persist();
      this.#emit('state');
    }
  }

  /** Decides what a failed step means; see the module's documentation. */
  async #recover(err) {
    if (err instanceof OfflineError) {
      this.#offline = true;
      const delay = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** this.#attempt++);
      this.#schedule(delay * (1 - Math.random() * 0.2)); // jitter: clients do not return in lockstep
      return 'wait';
    }
    this.#offline = false;
    this.#attempt = 0;
    try {
      switch (err.status) {
        case 404:
        case 410:
          this.#lost = true;
          return 'progress';
        case 412: {
          const before = this.#draft.formData;
          await this.#refresh();
          this.#contest(before);
          this.#conflict = this.#pending.size > 0;
          if (this.#conflict) this.#schedule(this.#o.debounceMs);
          return 'wait';
        }
        case 409: // submitted meanwhile (another tab): the refetch shows it
          await this.#refresh();
          if (this.#draft.status !== 'submitted') this.#failure = err;
          return 'wait';
        case 422: {
          const bad = Object.keys(err.errors).filter((field) => this.#pending.has(field));
          if (!bad.length) break;
          for (const field of bad) {
            this.#rejected.set(field, { value: this.#pending.get(field), messages: err.errors[field] });
            this.#pending.delete(field);
          }
          return 'progress';
        }
      }
    } catch (again) {
      return this.#recover(again);
    }
    this.#failure = err;
    return 'wait';
  }

  /** Loads the stored draft, or creates one holding what the form has. */
  async #open() {
    if (this.#storedId && !this.#lost) {
      try {
        this.#accept(await this.#request('GET', `/api/v1/drafts/${encodeURIComponent(this.#storedId)}`));
        this.#restored = true;
        this.#saved = Object.keys(this.#draft.formData).length > 0;
        this.#failure = null;
        this.#emit('data');
        return;
      } catch (err) {
        if (!GONE.has(err.status)) throw err; // expired: open a new one below
      }
    }
    // Like an autosave: what is sent is in flight, edits typed meanwhile stay pending.
    this.#inflight = this.#pending;
    this.#pending = new Map();
    this.#firstPendingAt = null;
    const formData = withoutNulls(this.#local(false));
    // A new key for a lost draft: the old key names the draft that is gone.
    if (this.#lost) this.#idempotencyKey = crypto.randomUUID();
    const draft = await this.#request('POST', '/api/v1/drafts', { json: { formData }, headers: { 'Idempotency-Key': this.#idempotencyKey } });
    this.#inflight = null;
    this.#lost = false;
    this.#storedId = draft.id;
    this.#accept(draft);
    this.#saved = Object.keys(formData).length > 0;
    this.#conflict = false;
    this.#failure = null;
  }

  async #refresh() {
    this.#accept(await this.#request('GET', this.#path()));
    this.#emit('data');
  }

  async #ensureOpen() {
    if (!this.#draft || this.#lost) await this.#autosave();
    if (!this.#draft || this.#lost) throw this.#blocker();
  }

  /** Takes the service's draft; the service answered, so we are not offline. */
  #accept(draft) {
    this.#draft = draft;
    this.#offline = false;
    this.#attempt = 0;
  }

  /**
   * The draft after a minimal answer to a patch: the patch merged into the
   * form (`null` removes a field), at the version of the answer's ETag.
   * @param {Map<string, unknown>} patch
   * @param {string | null | undefined} etag  `"<version>"`
   */
  #merged(patch, etag) {
    const formData = { ...this.#draft.formData };
    for (const [field, value] of patch) {
      if (value === null) delete formData[field];
      else formData[field] = value;
    }
    const version = Number(/^"(\d+)"$/.exec(etag ?? '')?.[1] ?? this.#draft.version + 1);
    return { ...this.#draft, formData, version, updatedAt: new Date().toISOString() };
  }

  /**
   * After another writer's change (`before`: the form as this client knew it):
   * each field it changed that this client holds an unsaved edit of, or that
   * the person is in, is held for the person to choose.
   */
  #contest(before) {
    const editing = this.#o.isEditing?.();
    const after = this.#draft.formData;
    for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (same(before[field], after[field])) continue;
      const theirs = after[field] ?? null;
      const held = this.#contested.get(field);
      let mine;
      if (held) mine = held.mine;
      else if (this.#pending.has(field)) mine = this.#pending.get(field);
      else if (field === editing) mine = before[field] ?? null;
      else continue;
      this.#pending.delete(field);
      if (same(mine, theirs)) this.#contested.delete(field);
      else this.#contested.set(field, { mine, theirs });
    }
  }

  // --- helpers ------------------------------------------------------------

  /** The draft's form with local edits on top; `withRejected` adds the refused ones. */
  #local(withRejected) {
    const view = { ...this.#draft?.formData };
    if (withRejected) for (const [field, r] of this.#rejected) view[field] = r.value;
    for (const [field, c] of this.#contested) view[field] = c.mine;
    for (const [field, value] of this.#inflight || []) view[field] = value;
    for (const [field, value] of this.#pending) view[field] = value;
    return view;
  }

  #blocker() {
    if (this.#draft?.status === 'submitted') return new ProblemError(409, { detail: 'this course was already submitted' });
    if (this.#offline) return new OfflineError();
    if (this.#contested.size) {
      return new ProblemError(409, { title: 'Conflict', detail: `choose which version to keep of ${[...this.#contested.keys()].join(', ')}` });
    }
    if (this.#rejected.size) return new ProblemError(422, { title: 'Validation failed', errors: this.errors });
    return this.#failure || new ProblemError(412, { title: 'The draft changed elsewhere' });
  }

  #path() {
    return `/api/v1/drafts/${encodeURIComponent(this.#draft.id)}`;
  }

  /** Serializes work on the draft: one request at a time, in order. */
  #run(fn) {
    const result = this.#queue.then(fn);
    this.#queue = result.catch(() => {});
    return result;
  }

  #schedule(ms) {
    this.#cancelTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#autosave();
    }, ms);
  }

  #cancelTimer() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Keeps the draft id and every unacknowledged edit in storage, for a reload. */
  #persist() {
    const edits = Object.fromEntries([
      ...[...this.#rejected].map(([field, r]) => [field, r.value]),
      ...[...this.#contested].map(([field, c]) => [field, c.mine]),
      ...(this.#inflight || []),
      ...this.#pending,
    ]);
    try {
      this.#o.storage?.setItem(this.#o.storageKey, JSON.stringify({
        id: this.#draft?.id ?? this.#storedId, edits, localId: this.#localId, idempotencyKey: this.#idempotencyKey,
      }));
    } catch {
      /* storage full or disabled: the draft still lives on the service */
    }
    this.#writeJournal(edits);
  }

  // --- the journal (see journal.js) -----------------------------------------

  #journalKey() {
    return `${this.#user}:${this.#localId}`;
  }

  /** Every edit the service has not acknowledged, refused ones included. */
  #unacknowledged() {
    return Object.fromEntries([
      ...[...this.#rejected].map(([field, r]) => [field, r.value]),
      ...(this.#inflight || []),
      ...this.#pending,
    ]);
  }

  /** Writes the journal as it is now, in order; an acknowledged journal is dropped. */
  #writeJournal(edits) {
    if (!this.#o.journal || !this.#user || this.#draft?.status === 'submitted') return;
    const key = this.#journalKey();
    const draft = this.#draft && !this.#lost ? this.#draft : null;
    for (const field of this.#base.keys()) if (!(field in edits)) this.#base.delete(field);
    const record = {
      key,
      user: this.#user,
      draftId: draft?.id ?? null,
      localId: this.#localId,
      idempotencyKey: this.#idempotencyKey,
      versions: draft ? [draft.version, ...(this.#inflight ? [draft.version + 1] : [])] : [],
      fields: edits,
      base: Object.fromEntries(this.#base),
    };
    const empty = !Object.keys(edits).length;
    this.#journalChain = this.#journalChain
      .then(() => (empty ? journal.remove(key) : journal.put(record)))
      .catch(() => {}); // no IndexedDB (private mode, quota): sessionStorage still has it
  }

  /** Takes this tab's journal lock, held as long as the tab lives on this journal. */
  async #holdJournal() {
    if (!this.#o.journal || !this.#user || this.#releaseLock) return;
    const released = new Promise((resolve) => (this.#releaseLock = resolve));
    // A reload waits a moment for the page it replaces to let go of the lock.
    const held = journal.hold(this.#journalKey(), released).catch(() => {});
    await Promise.race([held, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }

  #forgetJournal() {
    if (!this.#o.journal || !this.#user) return;
    const key = this.#journalKey();
    this.#base = new Map();
    this.#journalChain = this.#journalChain.then(() => journal.remove(key)).catch(() => {});
  }

  /** A fresh journal (another draft): a new local id, key and lock. */
  #newJournal() {
    this.#releaseLock?.();
    this.#releaseLock = null;
    this.#localId = crypto.randomUUID();
    this.#idempotencyKey = crypto.randomUUID();
    this.#holdJournal();
  }

  /** The page stayed after its keepalive save was answered: take the acknowledgement. */
  async #acknowledgeExitSave(fields, res, draft) {
    if (draft) {
      const version = Number(/^"(\d+)"$/.exec(res.headers.get('ETag') ?? '')?.[1]);
      if (this.#draft?.id !== draft.id || !(version === this.#draft.version + 1) || this.#inflight) return;
      this.#draft = { ...this.#draft, version, formData: { ...this.#draft.formData, ...fields } };
      for (const key of Object.keys(this.#draft.formData)) if (this.#draft.formData[key] === null) delete this.#draft.formData[key];
    } else {
      if (this.#draft) return;
      this.#accept(await res.json());
      this.#storedId = this.#draft.id;
    }
    for (const [field, value] of Object.entries(fields)) if (same(this.#pending.get(field), value)) this.#pending.delete(field);
    if (!this.#pending.size) this.#cancelTimer();
    this.#saved = true;
    this.#persist();
    this.#emit('state');
  }

  /** One journal of a tab that is gone, onto its draft; see replayJournals(). */
  async #replay(record) {
    const fields = record.fields || {};
    if (!Object.keys(fields).length) return { kind: 'saved' };
    let { draftId } = record;
    let versions = record.versions || [];
    try {
      if (!draftId) {
        // Its create may have arrived: the same key gets the same draft.
        const draft = await this.#request('POST', '/api/v1/drafts', {
          json: { formData: withoutNulls(fields) }, headers: { 'Idempotency-Key': record.idempotencyKey },
        });
        draftId = draft.id;
        versions = [draft.version];
      }
      const path = `/api/v1/drafts/${encodeURIComponent(draftId)}`;
      const patch = (formData, tags) => this.#request('PATCH', path, {
        json: { formData },
        headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': tags.map((v) => `"${v}"`).join(', ') || '*' },
        minimal: true,
      });
      try {
        await patch(fields, versions);
        return { kind: 'saved', draftId };
      } catch (err) {
        if (err.status !== 412) throw err;
      }
      // Changed since: field by field. Equal to the journal: nothing to do; still
      // at the journal's base: the journal's text goes on top; changed on both
      // sides: the journal's text goes on top and the person is shown the other.
      const server = await this.#request('GET', path);
      const changed = {};
      const conflicts = {};
      for (const [field, value] of Object.entries(fields)) {
        const theirs = server.formData[field] ?? null;
        if (same(theirs, value)) continue;
        changed[field] = value;
        if (record.base && field in record.base && !same(theirs, record.base[field])) conflicts[field] = theirs;
      }
      if (Object.keys(changed).length) await patch(changed, [server.version]);
      return { kind: 'saved', draftId, conflicts };
    } catch (err) {
      if (err.status === 410) return { kind: 'discarded', draftId };
      if (err.status === 404) {
        // Expired: the text goes into a new draft, and the person is told.
        const draft = await this.#request('POST', '/api/v1/drafts', { json: { formData: withoutNulls(fields) } });
        return { kind: 'recreated', draftId: draft.id };
      }
      if (err instanceof OfflineError) return { kind: 'kept' };
      throw err;
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(detail === undefined ? new Event(type) : new CustomEvent(type, { detail }));
  }

  /**
   * One API request with the bearer token. `minimal` asks for no body back
   * (`Prefer: return=minimal`) and answers a 204 as `{ etag }`.
   * @returns {Promise<*>} the parsed JSON body (null for 204)
   * @throws {OfflineError|ProblemError}
   */
  async #request(method, path, { json, body, headers = {}, minimal = false, timeout = this.#o.requestTimeoutMs } = {}) {
    for (let attempt = 0; ; attempt++) {
      let token;
      try {
        token = await this.#o.getToken({ refresh: attempt > 0 });
      } catch (err) {
        throw err instanceof TypeError || UNAVAILABLE.has(err.status) ? new OfflineError(err) : err;
      }
      this.#token = token;
      if (!this.#user) {
        this.#user = journal.userOf(token);
        this.#holdJournal();
      }
      const init = {
        method,
        headers: { Accept: 'application/json, application/problem+json', Authorization: `Bearer ${token}`, ...headers },
        body: json !== undefined ? JSON.stringify(json) : body,
      };
      if (json !== undefined) init.headers['Content-Type'] ??= 'application/json';
      if (minimal) init.headers.Prefer = 'return=minimal';
      const abort = timeout ? new AbortController() : null;
      const timer = abort && setTimeout(() => abort.abort(), timeout);
      init.signal = abort?.signal;
      let res, text;
      try {
        res = await this.#o.fetch(this.#o.baseUrl + path, init);
        text = await res.text();
      } catch (err) {
        throw new OfflineError(err);
      } finally {
        clearTimeout(timer);
      }
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON, e.g. a proxy's error page */
      }
      if (res.status === 401 && attempt === 0) continue; // expired token: fetch a fresh one, once
      if (UNAVAILABLE.has(res.status)) throw new OfflineError(new ProblemError(res.status, data));
      if (!res.ok) throw new ProblemError(res.status, data);
      if (minimal && res.status === 204) return { etag: res.headers.get('ETag') };
      return data;
    }
  }
}
