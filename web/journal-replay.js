/**
 * Journals of tabs that are gone (closed, or a browser killed before their
 * edits were acknowledged), replayed onto their drafts by the next page load:
 * a field the service still has at the journal's base takes the journal's
 * text; one changed on both sides takes it too, and the person is shown the
 * other version.
 *
 * @module journal-replay
 */

import * as journal from './journal.js';
import { applyMergePatch, OfflineError } from './api.js';
import { same } from './draft-state.js';

/**
 * @typedef {{kind: 'saved'|'recreated'|'discarded'|'kept', draftId?: string, conflicts?: Object<string, *>}} ReplayOutcome
 */

/**
 * Replays journals of `user` that no live tab holds, but `ownKey` (this tab's).
 * @param {{user: string, ownKey: string, request: Function}} options
 *   `request(method, path, options)`: a call of the API (see api.js)
 * @returns {Promise<ReplayOutcome[]>}
 */
export async function replayJournals({ user, ownKey, request }) {
  const outcomes = [];
  let records = [];
  try {
    records = await journal.ofUser(user);
  } catch {
    return [];
  }
  for (const record of records) {
    if (record.key === ownKey) continue;
    await journal.ifOrphaned(record.key, async () => {
      let outcome;
      try {
        outcome = await replay(record, request);
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
 * One journal onto its draft.
 * @returns {Promise<ReplayOutcome>}
 */
async function replay(record, request) {
  const fields = record.fields || {};
  if (!Object.keys(fields).length) return { kind: 'saved' };
  let { draftId } = record;
  let versions = record.versions || [];
  try {
    if (!draftId) {
      // Its create may have arrived: the same key gets the same draft.
      const draft = await request('POST', '/api/v1/drafts', {
        json: { formData: applyMergePatch({}, fields) }, headers: { 'Idempotency-Key': record.idempotencyKey },
      });
      draftId = draft.id;
      versions = [draft.version];
    }
    const path = `/api/v1/drafts/${encodeURIComponent(draftId)}`;
    const patch = (formData, tags) => request('PATCH', path, {
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
    const server = await request('GET', path);
    const { changed, conflicts } = compare(record, server.formData);
    if (Object.keys(changed).length) await patch(changed, [server.version]);
    return { kind: 'saved', draftId, conflicts };
  } catch (err) {
    if (err.status === 410) return { kind: 'discarded', draftId };
    if (err.status === 404) {
      // Expired: the text goes into a new draft, and the person is told.
      const draft = await request('POST', '/api/v1/drafts', { json: { formData: applyMergePatch({}, fields) } });
      return { kind: 'recreated', draftId: draft.id };
    }
    if (err instanceof OfflineError) return { kind: 'kept' };
    throw err;
  }
}

/**
 * A journal against the draft as it is now, field by field. Equal to the
 * journal: nothing to do; still at the journal's base: the journal's text goes
 * on top; changed on both sides: the journal's text goes on top and the person
 * is shown the other (`conflicts`).
 */
function compare(record, server) {
  const changed = {};
  const conflicts = {};
  for (const [field, value] of Object.entries(record.fields)) {
    const theirs = server[field] ?? null;
    if (same(theirs, value)) continue;
    changed[field] = value;
    if (record.base && field in record.base && !same(theirs, record.base[field])) conflicts[field] = theirs;
  }
  return { changed, conflicts };
}
