// Calls from other origins (DRAFTD_CORS_ORIGINS): a page on a listed loopback
// origin opens a draft and autosaves it from Chromium, reading the ETag and a
// 412, and uploads by tus reading the offsets; a page on an unlisted origin
// cannot save or upload at all.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before } from 'node:test';
import { Service, browser, test } from '../lib/harness.js';

// What a front-end on its own origin does: plain fetch with a bearer token.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Another origin</title>
<script>
  async function call(api, token, method, path, { json, headers = {} } = {}) {
    const res = await fetch(api + path, {
      method,
      headers: { Authorization: 'Bearer ' + token, ...headers },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: res.status, etag: res.headers.get('ETag'), location: res.headers.get('Location'), body: await res.json() };
  }
  window.draftd = {
    open: (api, token, formData) =>
      call(api, token, 'POST', '/api/v1/drafts', { json: { formData }, headers: { 'Content-Type': 'application/json' } }),
    autosave: (api, token, id, etag, formData) =>
      call(api, token, 'PATCH', '/api/v1/drafts/' + id, {
        json: { formData },
        headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': etag },
      }),
    // A resumable upload (tus): creation, then the bytes in two PATCHes.
    tus: async (api, token, id, text) => {
      const bytes = new TextEncoder().encode(text);
      const tus = { 'Tus-Resumable': '1.0.0', Authorization: 'Bearer ' + token };
      const created = await fetch(api + '/api/v1/drafts/' + id + '/uploads', {
        method: 'POST',
        headers: { ...tus, 'Upload-Length': String(bytes.length), 'Upload-Metadata': 'filename ' + btoa('notes.txt') + ',filetype ' + btoa('text/plain') },
      });
      const location = created.headers.get('Location');
      const half = bytes.length >> 1;
      const patch = (offset, end) => fetch(api + location, {
        method: 'PATCH',
        headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
        body: bytes.slice(offset, end),
      });
      const first = await patch(0, half);
      const last = await patch(Number(first.headers.get('Upload-Offset')), bytes.length);
      return { created: created.status, location, first: first.headers.get('Upload-Offset'), last: last.status, offset: last.headers.get('Upload-Offset'), fileId: last.headers.get('Draftd-File-Id') };
    },
  };
</script>
`;

/** A web server on 127.0.0.1 that serves PAGE at `/`: one origin. */
async function origin() {
  const server = createServer((req, res) => {
    if (req.url !== '/') return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

let service, chrome, listed, unlisted;
before(async () => {
  [listed, unlisted] = [await origin(), await origin()];
  service = await Service.create('cors', { env: { DRAFTD_CORS_ORIGINS: listed.url } });
  chrome = await browser();
});
after(async () => {
  await chrome?.close();
  await service?.destroy();
  for (const site of [listed, unlisted]) site?.server.close();
});

test('a page on a listed origin opens a draft and autosaves it with If-Match', async () => {
  const page = await chrome.page();
  await page.goto(listed.url);
  const { opened, saved, stale } = await page.evaluate(
    async ({ api, token }) => {
      const opened = await window.draftd.open(api, token, { topic: 'Opened elsewhere' });
      const saved = await window.draftd.autosave(api, token, opened.body.id, opened.etag, { topic: 'Saved from the platform' });
      // Another tab wrote meanwhile: the stale ETag is refused, and the page can read why.
      const stale = await window.draftd.autosave(api, token, opened.body.id, opened.etag, { topic: 'Stale' });
      return { opened, saved, stale };
    },
    { api: service.baseUrl, token: await service.token() },
  );

  assert.equal(opened.status, 201);
  assert.equal(opened.etag, '"1"');
  assert.equal(opened.location, `/api/v1/drafts/${opened.body.id}`);
  assert.equal(saved.status, 200);
  assert.equal(saved.etag, '"2"');
  assert.equal(stale.status, 412);
  assert.equal(stale.body.currentVersion, 2);

  const draft = await service.draft(opened.body.id);
  assert.equal(draft.version, 2);
  assert.deepEqual(draft.formData, { topic: 'Saved from the platform' });
  await page.close();
});

test('a page on a listed origin uploads by tus and reads the offsets and the new file', async () => {
  const { body: draft } = await service.api('POST', '/api/v1/drafts', { json: { formData: {} } });
  const page = await chrome.page();
  await page.goto(listed.url);
  const text = 'Lesson one: ownership. Lesson two: borrowing.\n'.repeat(100);
  const upload = await page.evaluate(({ api, token, id, text }) => window.draftd.tus(api, token, id, text), {
    api: service.baseUrl,
    token: await service.token(),
    id: draft.id,
    text,
  });
  assert.equal(upload.created, 201);
  assert.match(upload.location, new RegExp(`^/api/v1/drafts/${draft.id}/uploads/`));
  assert.equal(Number(upload.first), text.length >> 1);
  assert.equal(upload.last, 204);
  assert.equal(Number(upload.offset), text.length);
  const { body: files } = await service.api('GET', `/api/v1/drafts/${draft.id}/files`);
  assert.deepEqual(files.map((f) => [f.id, f.originalName, f.sizeBytes]), [[upload.fileId, 'notes.txt', text.length]]);
  await page.close();
});

test('a page on an unlisted origin cannot save: its fetch fails and the draft stays as it was', async () => {
  const { status, body: before } = await service.api('POST', '/api/v1/drafts', { json: { formData: { topic: 'Mine' } } });
  assert.equal(status, 201);

  const page = await chrome.page();
  await page.goto(unlisted.url);
  const failures = await page.evaluate(
    async ({ api, token, id }) => {
      const attempt = (call) => call.then((res) => `answered ${res.status}`, (err) => `${err.name}: ${err.message}`);
      return [
        await attempt(window.draftd.autosave(api, token, id, '"1"', { topic: 'Written by another site' })),
        await attempt(window.draftd.open(api, token, { topic: 'Opened by another site' })),
        await attempt(window.draftd.tus(api, token, id, 'Uploaded by another site')),
      ];
    },
    { api: service.baseUrl, token: await service.token(), id: before.id },
  );

  for (const failure of failures) assert.match(failure, /^TypeError: /);
  const draft = await service.draft(before.id);
  assert.equal(draft.version, 1);
  assert.deepEqual(draft.formData, { topic: 'Mine' });
  assert.equal(draft.courseId, null, 'no upload made a course');
  await page.close();
});
