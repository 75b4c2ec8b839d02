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
import { backoff, OfflineError, request } from './api.js';
import { DraftState } from './draft-state.js';
import { DraftJournal, keep, restoreKept, saveOnExit } from './draft-journal.js';
import { replayJournals } from './journal-replay.js';
import { applyRemote } from './draft-remote.js';
import * as files from './draft-files.js';
import * as lifecycle from './draft-lifecycle.js';

export { OfflineError, ProblemError } from './api.js';

const isEmpty = (v) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

export class DraftClient extends EventTarget {
  #o;
  /** the draft and the edits (draft-state.js) */
  #s = new DraftState();
  /** @type {DraftJournal} */
  #journal;
  #timer = null;
  /** requests that touch the draft run one after another */
  #queue = Promise.resolve();
  /** what the client's other modules work with (draft-files.js, draft-remote.js…) */
  #inside;

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
    this.#journal = new DraftJournal(this.#o.journal);
    this.#inside = {
      s: this.#s,
      o: this.#o,
      journal: this.#journal,
      request: (...args) => this.#request(...args),
      run: (fn) => this.#run(fn),
      emit: (type, detail) => this.#emit(type, detail),
      persist: () => keep(this.#inside),
      refresh: () => this.#refresh(),
      contest: (before) => this.#s.contest(before, this.#o.isEditing?.()),
      ensureOpen: () => this.#ensureOpen(),
      autosave: () => this.#autosave(),
      flush: () => this.flush(),
      cancelTimer: () => this.#cancelTimer(),
      path: () => this.#path(),
    };
  }

  /** @returns {Draft|null} the draft as last seen from the service */
  get draft() {
    const draft = this.#s.open;
    return draft ? { ...draft } : null;
  }

  /** @returns {SaveState} */
  get state() {
    return this.#s.state;
  }

  /** @returns {boolean} start() reopened this tab's own draft (e.g. after a reload) */
  get restored() {
    return this.#s.restored;
  }

  /** @returns {Error|null} why the state is `error` when no field is to blame */
  get failure() {
    return this.#s.failure;
  }

  /** @returns {Object<string, string[]>} messages for the edits the service refused */
  get errors() {
    return this.#s.errors;
  }

  /** @returns {Object<string, {mine: *, theirs: *}>} contested fields: this client's text and the other writer's */
  get conflicts() {
    return this.#s.conflicts;
  }

  /** @returns {Object<string, *>} what the form should show: the draft plus local edits */
  get formData() {
    return this.#s.formData;
  }

  /**
   * Ends the conflict of one field: `mine` saves this client's text over the
   * other writer's now, `theirs` takes the other writer's.
   * @param {string} field
   * @param {'mine'|'theirs'} choice
   */
  resolve(field, choice) {
    if (!this.#s.contested.has(field)) return;
    const contest = this.#s.resolve(field, choice);
    if (contest) {
      this.#journal.base.set(field, contest.theirs);
      this.#schedule(0);
    }
    keep(this.#inside);
    this.#emit('data');
    this.#emit('state');
  }

  /**
   * Restores this tab's draft (and its unsaved edits); a new draft is opened by
   * the first edit, not here. Does not throw when offline: the state says so and
   * the client keeps trying.
   * @returns {Promise<Draft|null>}
   */
  async start() {
    const s = this.#s;
    await restoreKept(this.#inside);
    await this.#journal.hold();
    if (s.pending.size) {
      s.firstPendingAt = Date.now();
      this.#emit('data');
    }
    // A visit that types nothing opens nothing: the draft opens on the first edit.
    if (s.storedId || s.pending.size) await this.#autosave();
    return this.draft;
  }

  /** `pagehide` / `visibilitychange`: every unacknowledged edit goes out now, with `keepalive`. */
  saveOnExit() {
    saveOnExit(this.#inside);
  }

  /**
   * Replays journals of this user that no live tab holds (a tab closed, a
   * browser killed before their edits were acknowledged) onto their drafts.
   * @returns {Promise<import('./journal-replay.js').ReplayOutcome[]>}
   */
  async replayJournals() {
    const j = this.#journal;
    if (!j.enabled || !j.user) return [];
    return replayJournals({ user: j.user, ownKey: j.key, request: (...args) => this.#request(...args) });
  }

  /**
   * Records a change of one field; autosaved `debounceMs` after the last change.
   * An empty value (`''`, `[]`, `null`) removes the field.
   * @param {string} field
   * @param {*} value
   */
  set(field, value) {
    const s = this.#s;
    if (s.draft?.status === 'submitted') return;
    const next = isEmpty(value) ? null : value;
    const onService = s.draft?.formData?.[field] ?? null;
    const taken = s.edit(field, next);
    if (!taken) return;
    if (taken === 'pending' && !this.#journal.base.has(field)) this.#journal.base.set(field, onService);
    keep(this.#inside);
    // While offline the backoff timer drives the retries; typing does not hurry it.
    // The debounce waits for a pause, the maximum wait does not: a save goes out
    // at most maxWaitMs after the first unsent edit, however steady the typing.
    // A contested field's edit waits for the person's choice.
    if (taken === 'pending' && !s.offline) {
      const left = s.firstPendingAt + this.#o.maxWaitMs - Date.now();
      this.#schedule(Math.max(0, Math.min(this.#o.debounceMs, left)));
    }
    this.#emit('state');
  }

  /**
   * Saves pending edits now (e.g. before leaving the page or submitting).
   * @returns {Promise<boolean>} true when everything the form holds is stored
   */
  async flush() {
    const s = this.#s;
    this.#cancelTimer();
    for (let conflicts = 0; ; ) {
      if (s.draft?.status === 'submitted') return false;
      const outcome = await this.#run(() => this.#step());
      if (outcome === 'progress' || (outcome === 'done' && s.pending.size)) continue;
      if (outcome === 'done') return s.rejected.size === 0 && s.contested.size === 0;
      // After a conflict the draft was refetched: saving on top may go through now.
      if (s.conflict && !s.offline && !s.failure && ++conflicts < 3) continue;
      return false;
    }
  }

  /** Reads the draft again (e.g. after its course came back from the trash), then saves what waits. */
  async reload() {
    await this.#run(async () => {
      await this.#refresh();
      this.#s.failure = null;
    });
    this.#emit('state');
    if (this.#s.pending.size) this.#schedule(0);
  }

  /** Retries now instead of waiting for the backoff (e.g. on the browser's `online` event). */
  retryNow() {
    if (this.#s.offline || this.#s.pending.size) this.#schedule(0);
  }

  /**
   * Saves pending edits, then submits: strict validation, then the course row.
   * @returns {Promise<{courseId: string, courseSlug: string, status: 'submitted'}>}
   * @throws {ProblemError} 422 with `errors` per field; {@link OfflineError}
   */
  submit() {
    return lifecycle.submit(this.#inside);
  }

  /**
   * Uploads one file. The first file makes the draft a course row; its id is kept
   * in {@link DraftClient#draft}.courseId.
   * @param {File} file
   * @returns {Promise<{id: string, courseId: string, originalName: string, contentType: string, sizeBytes: number, sha256: string}>}
   */
  upload(file) {
    return files.upload(this.#inside, file);
  }

  /**
   * Where resumable (tus) uploads of this draft are created; opens the draft
   * first if need be. Hand it to a {@link module:tus-upload.TusUpload}, then the
   * stored file to {@link DraftClient#fileStored}.
   * @returns {Promise<string>}
   */
  uploadsPath() {
    return files.uploadsPath(this.#inside);
  }

  /**
   * Takes note of a file stored for this draft by another way than
   * {@link DraftClient#upload}: the first one made the course row.
   * @param {{courseId: string}} meta
   */
  fileStored(meta) {
    files.fileStored(this.#inside, meta);
  }

  /** @returns {Promise<Array<{id: string, originalName: string, sizeBytes: number}>>} the draft's files */
  listFiles() {
    return files.listFiles(this.#inside);
  }

  /** @param {string} fileId */
  removeFile(fileId) {
    return files.removeFile(this.#inside, fileId);
  }

  /** Forgets this tab's draft (e.g. to start another course); the next start() opens a new one. */
  reset() {
    this.#cancelTimer();
    this.#o.storage?.removeItem(this.#o.storageKey);
    this.#journal.forget();
  }

  /** Discards this tab's draft on the service, and its journal. */
  discard() {
    return lifecycle.discard(this.#inside);
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
  switchTo(id) {
    return lifecycle.switchTo(this.#inside, id);
  }

  /**
   * Takes a change another tab or device made, as the draft's event stream tells
   * it (see draft-remote.js).
   * @param {string} type
   * @param {object} data
   * @param {string} draftId  the draft whose stream told it
   */
  applyRemote(type, data, draftId) {
    return this.#run(() => applyRemote(this.#inside, type, data, draftId));
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
    const s = this.#s;
    if (s.draft?.status === 'submitted') return 'done';
    try {
      if (!s.open) {
        await lifecycle.open(this.#inside);
        return s.pending.size ? 'progress' : 'done';
      }
      if (!s.pending.size) return 'done';
      s.inflight = s.pending;
      s.pending = new Map();
      s.firstPendingAt = null;
      this.#emit('state');
      // Minimal: the service answers 204 with the new ETag, and the draft is
      // what this client had with its own patch merged in.
      const saved = await this.#request('PATCH', this.#path(), {
        json: { formData: Object.fromEntries(s.inflight) },
        headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': `"${s.draft.version}"` },
        minimal: true,
      });
      const sent = s.inflight;
      s.inflight = null;
      s.accept(saved?.formData ? saved : s.merged(sent, saved?.etag));
      s.saved = true;
      s.conflict = false;
      s.failure = null;
      // Edits typed meanwhile have armed the debounce timer; it sends them.
      return s.pending.size && !this.#timer ? 'progress' : 'done';
    } catch (err) {
      if (s.inflight) {
        s.pending = new Map([...s.inflight, ...s.pending]);
        s.inflight = null;
        s.firstPendingAt ??= Date.now();
      }
      return await this.#recover(err);
    } finally {
      keep(this.#inside);
      this.#emit('state');
    }
  }

  /** Decides what a failed step means; see the module's documentation. */
  async #recover(err) {
    const s = this.#s;
    if (err instanceof OfflineError) {
      s.offline = true;
      this.#schedule(backoff(s.attempt++, { baseMs: this.#o.retryBaseMs, maxMs: this.#o.retryMaxMs }));
      return 'wait';
    }
    s.offline = false;
    s.attempt = 0;
    try {
      switch (err.status) {
        case 404:
        case 410:
          s.lost = true;
          return 'progress';
        case 412: {
          const before = s.draft.formData;
          await this.#refresh();
          this.#inside.contest(before);
          s.conflict = s.pending.size > 0;
          if (s.conflict) this.#schedule(this.#o.debounceMs);
          return 'wait';
        }
        case 409: // submitted meanwhile (another tab): the refetch shows it
          await this.#refresh();
          if (s.draft.status !== 'submitted') s.failure = err;
          return 'wait';
        case 422: {
          const bad = Object.keys(err.errors).filter((field) => s.pending.has(field));
          if (!bad.length) break;
          for (const field of bad) {
            s.rejected.set(field, { value: s.pending.get(field), messages: err.errors[field] });
            s.pending.delete(field);
          }
          return 'progress';
        }
      }
    } catch (again) {
      return this.#recover(again);
    }
    s.failure = err;
    return 'wait';
  }

  async #refresh() {
    this.#s.accept(await this.#request('GET', this.#path()));
    this.#emit('data');
  }

  async #ensureOpen() {
    if (!this.#s.open) await this.#autosave();
    if (!this.#s.open) throw this.#s.blocker();
  }

  // --- helpers ------------------------------------------------------------

  #path() {
    return `/api/v1/drafts/${encodeURIComponent(this.#s.draft.id)}`;
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

  #emit(type, detail) {
    this.dispatchEvent(detail === undefined ? new Event(type) : new CustomEvent(type, { detail }));
  }

  /** One API request with the client's token (see api.js), the token kept for the exit save and the journal. */
  #request(method, path, options = {}) {
    return request(method, path, {
      getToken: async (opts) => {
        const token = await this.#o.getToken(opts);
        this.#journal.takeToken(token);
        return token;
      },
      fetch: this.#o.fetch,
      baseUrl: this.#o.baseUrl,
      timeout: this.#o.requestTimeoutMs,
      ...options,
    });
  }
}
