/**
 * The beginning and the ends of a {@link module:draft-client.DraftClient}'s
 * draft: opening it (the stored one, or a new one with what the form holds),
 * submit (with every field's error at once), discard, and the switch to
 * another of the person's drafts, each after the save loop stored what waits.
 *
 * @module draft-lifecycle
 */

import { applyMergePatch, ProblemError } from './api.js';
import { GONE } from './draft-state.js';

/** Loads the stored draft, or creates one holding what the form has. */
export async function open(c) {
  const { s } = c;
  if (s.storedId && !s.lost) {
    try {
      s.accept(await c.request('GET', `/api/v1/drafts/${encodeURIComponent(s.storedId)}`));
      s.restored = true;
      s.saved = Object.keys(s.draft.formData).length > 0;
      s.failure = null;
      c.emit('data');
      return;
    } catch (err) {
      if (!GONE.has(err.status)) throw err; // expired: open a new one below
    }
  }
  // Like an autosave: what is sent is in flight, edits typed meanwhile stay pending.
  s.inflight = s.pending;
  s.pending = new Map();
  s.firstPendingAt = null;
  const formData = applyMergePatch({}, s.local(false));
  // A new key for a lost draft: the old key names the draft that is gone.
  if (s.lost) c.journal.idempotencyKey = crypto.randomUUID();
  const draft = await c.request('POST', '/api/v1/drafts', { json: { formData }, headers: { 'Idempotency-Key': c.journal.idempotencyKey } });
  s.inflight = null;
  s.lost = false;
  s.storedId = draft.id;
  s.accept(draft);
  s.saved = Object.keys(formData).length > 0;
  s.conflict = false;
  s.failure = null;
}

/** Saves pending edits, then submits; an expired draft is opened again with the same data, once. */
export async function submit(c) {
  const { s } = c;
  for (let tries = 0; ; tries++) {
    if (!(await c.flush())) {
      const blocker = s.blocker();
      throw blocker.status === 422 ? await withStrictErrors(c, blocker) : blocker;
    }
    try {
      const result = await c.run(() => c.request('POST', `${c.path()}/submit`));
      s.draft = { ...s.draft, status: 'submitted', courseId: result.courseId, courseSlug: result.courseSlug };
      c.persist();
      c.journal.forget();
      c.emit('state');
      return result;
    } catch (err) {
      if (!GONE.has(err.status) || tries > 0) throw err;
      s.lost = true; // expired: a new draft with the same data, then submit that
    }
  }
}

/**
 * A refused field must not hide the other fields' errors: the service's
 * strict check of what it holds (a dry run of submit, which changes nothing)
 * joins the refused fields' messages.
 * @param {ProblemError} refused
 */
async function withStrictErrors(c, refused) {
  if (!c.s.open) return refused;
  try {
    await c.run(() => c.request('POST', `${c.path()}/submit?dryRun=true`));
  } catch (err) {
    if (err.status === 422) return new ProblemError(422, { title: 'Validation failed', errors: { ...err.errors, ...refused.errors } });
  }
  return refused;
}

/** Discards the draft on the service, and its journal; the form starts afresh. */
export async function discard(c) {
  const { s } = c;
  c.cancelTimer();
  await c.run(async () => {
    if (s.open) await c.request('DELETE', c.path());
    s.draft = null;
    s.storedId = null;
    s.clearEdits();
    s.saved = false;
    c.journal.forget();
    c.journal.renew();
    c.persist();
  });
  c.emit('data');
  c.emit('state');
}

/** Works on draft `id` from now on; the one left is discarded when nothing was ever written to it. */
export async function switchTo(c, id) {
  const { s } = c;
  // What was typed here first goes into its own draft (which stays listed).
  if (s.pending.size || s.inflight) {
    if (!(await c.flush())) throw s.blocker();
  }
  c.cancelTimer();
  await c.run(async () => {
    const current = s.draft;
    const untouched = current && !s.saved && !s.pending.size && !current.courseId;
    if (untouched && current.id !== id) {
      await c.request('DELETE', c.path()).catch(() => {}); // else it expires by itself
    }
    s.draft = null;
    s.storedId = id;
    s.lost = false;
    s.saved = false;
    s.conflict = false;
    s.failure = null;
    s.clearEdits();
    c.journal.forget();
    c.journal.renew();
    c.persist();
  });
  await c.autosave();
  c.emit('data');
  c.emit('state');
}
