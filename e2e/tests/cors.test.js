// Calls from other origins (DRAFTD_CORS_ORIGINS): a page on a listed loopback
// origin opens a draft and autosaves it from Chromium, reading the ETag and a
// 412; a page on an unlisted origin cannot save at all.
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
      ];
    },
    { api: service.baseUrl, token: await service.token(), id: before.id },
  );

  for (const failure of failures) assert.match(failure, /^TypeError: /);
  const draft = await service.draft(before.id);
  assert.equal(draft.version, 1);
  assert.deepEqual(draft.formData, { topic: 'Mine' });
  await page.close();
});
