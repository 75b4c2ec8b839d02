/**
 * Changes another tab or device made to the draft, as its event stream tells
 * them (see docs/api.md, "Live changes"), merged into what a
 * {@link module:draft-client.DraftClient} holds: `saved` merges the patch into
 * the draft (the person's own unsaved edits stay on top, a field changed under
 * one is contested), `materialized` and `submitted` update the draft,
 * `discarded` ends it; `hello`, sent on each (re)connection, refetches the draft
 * if it changed meanwhile.
 *
 * @module draft-remote
 */

import { applyMergePatch } from './api.js';
import { same } from './draft-state.js';

/**
 * Takes one change (run in the client's queue, after any request in flight:
 * its answer may be the very change announced). Changes this client made itself
 * come back too, and are recognized by their version. A change of another draft
 * than this client's (a stream still open while the tab switched drafts) is ignored.
 * @param {object} c  the client's inside (see DraftClient)
 * @param {string} type
 * @param {object} data
 * @param {string} draftId  the draft whose stream told it
 */
export async function applyRemote(c, type, data, draftId) {
  const draft = c.s.draft;
  if (!draft || c.s.lost || draft.id !== draftId) return;
  if (type === 'discarded') {
    c.s.lost = true;
    c.emit('remote', { type, fields: [] });
    c.emit('state');
    return;
  }
  if (type === 'materialized') return materialized(c, draft, data);
  if (type === 'submitted') return submitted(c, draft, data);
  const version = Number(data?.version);
  if (!(version > draft.version)) return; // ours, or already seen
  const patch = data?.patch?.formData ?? data?.patch;
  if (type === 'saved' && version === draft.version + 1 && patch && typeof patch === 'object') {
    c.s.draft = { ...draft, version, formData: applyMergePatch(draft.formData, patch) };
    c.contest(draft.formData);
    c.emit('remote', { type, fields: Object.keys(patch) });
  } else {
    await refetch(c, draft);
  }
  c.persist();
  c.emit('data');
  c.emit('state');
}

/** The course row exists now (another tab uploaded a file): the files list can show it. */
function materialized(c, draft, data) {
  if (draft.courseId) return;
  c.s.draft = { ...draft, status: draft.status === 'open' ? 'materialized' : draft.status, courseId: data?.courseId ?? null, courseSlug: data?.courseSlug ?? null };
  c.emit('remote', { type: 'materialized', fields: [] });
  c.emit('state');
}

/** Submitted elsewhere: the final form and the course's address. */
async function submitted(c, draft, data) {
  if (draft.status === 'submitted') return; // this client's own submit, coming back
  await c.refresh().catch(() => {
    c.s.draft = { ...draft, status: 'submitted', courseId: data?.courseId ?? draft.courseId };
  });
  c.emit('remote', { type: 'submitted', fields: [] });
  c.persist();
  c.emit('data');
  c.emit('state');
}

/** A gap, or a reconnection after changes: the draft as it is now. */
async function refetch(c, draft) {
  const before = draft.formData;
  await c.refresh();
  c.contest(before);
  const after = c.s.draft.formData;
  const fields = Object.keys({ ...before, ...after }).filter((f) => !same(before[f], after[f]));
  if (fields.length) c.emit('remote', { type: 'saved', fields });
}
