/**
 * A draft's files, for a {@link module:draft-client.DraftClient}: uploads in one
 * request, where resumable (tus) uploads go, the list, and removal. The first
 * file makes the draft a course row; the client's draft then carries its id.
 *
 * @module draft-files
 */

import { GONE } from './draft-state.js';

/** Uploads one file in one request; a draft that expired meanwhile is opened again first. */
export async function upload(c, file) {
  for (let tries = 0; ; tries++) {
    await c.ensureOpen();
    const body = new FormData();
    body.append('file', file, file.name);
    try {
      // No timeout: a large file may take minutes.
      const meta = await c.request('POST', `${c.path()}/files`, { body, timeout: 0 });
      if (c.s.draft.courseId !== meta.courseId) {
        c.s.draft = { ...c.s.draft, courseId: meta.courseId, status: 'materialized' };
        c.emit('state');
      }
      return meta;
    } catch (err) {
      if (!GONE.has(err.status) || tries > 0) throw err;
      c.s.lost = true;
    }
  }
}

/** Where resumable (tus) uploads of the draft are created; opens the draft first if need be. */
export async function uploadsPath(c) {
  await c.ensureOpen();
  return `${c.path()}/uploads`;
}

/** A file stored by another way than {@link upload}: the first one made the course row. */
export function fileStored(c, meta) {
  const draft = c.s.draft;
  if (draft && draft.courseId !== meta.courseId) {
    c.s.draft = { ...draft, courseId: meta.courseId, status: draft.status === 'open' ? 'materialized' : draft.status };
    c.emit('state');
  }
}

export async function listFiles(c) {
  await c.ensureOpen();
  return c.request('GET', `${c.path()}/files`);
}

export async function removeFile(c, fileId) {
  await c.ensureOpen();
  await c.request('DELETE', `${c.path()}/files/${encodeURIComponent(fileId)}`);
}
