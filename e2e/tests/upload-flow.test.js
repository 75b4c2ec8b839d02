// Uploads and the rest of the page: a submit waits for a file on its way (or
// leaves it out only when asked to), progress moves within a chunk, Pause keeps
// what the server holds, a reload names the half-sent file and resumes it, the
// status says "Saved" only once files are in too, leaving mid-upload asks first,
// refused files say why in plain words, and the controls fit a finger.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { suite, openForm, draftId, saveState, screenshot, waitFor, test } from '../lib/harness.js';
import { byteProxy } from '../lib/byte-proxy.js';

let service, chrome;
// A small upload limit, so that a file over it is quick to make.
suite('upload-flow', { env: { DRAFTD_MAX_UPLOAD_BYTES: String(8 << 20) } }, (s, c) => ([service, chrome] = [s, c]));

const MiB = 1 << 20;
const files = mkdtempSync(path.join(process.env.DRAFTD_E2E_RUN_DIR || tmpdir(), 'upload-flow-'));

/** `size` bytes of numbered lines (text: the service checks it is UTF-8), so a misplaced chunk shows. */
function material(size, label = 'outline') {
  const lines = [];
  for (let i = 0, n = 0; n < size; i++) {
    lines.push(`${label} line ${i}: lessons, exercises, notes.\n`);
    n += lines.at(-1).length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

/** A file on disk: choosing it again gives the same name, size and date (a buffer would get a new date). */
function onDisk(name, bytes) {
  const file = path.join(files, name);
  writeFileSync(file, bytes);
  return file;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Uploads from the page at `bytesPerSecond` (-1: as fast as it goes), or offline. */
async function network(page) {
  const cdp = await page.context().newCDPSession(page);
  return (conditions) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1, ...conditions });
}

const progress = (page) => page.$eval('#file-list progress', (bar) => bar.value).catch(() => null);
const row = (page, name) => page.locator('#file-list li', { hasText: name });

/** The tus address of the page's unfinished upload of `name`, from its storage. */
async function uploadUrl(page, name) {
  const id = await draftId(page);
  return waitFor(() => page.evaluate(([key, n]) => JSON.parse(localStorage.getItem(key) || '[]').find((e) => e.name === n)?.url, [`draftd.uploads:${id}`, name]), { what: `the kept address of ${name}` });
}

/** What the server holds of an upload (HEAD), or null once it is gone. */
async function serverOffset(url) {
  const res = await fetch(service.baseUrl + url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${await service.token()}` } });
  return res.ok ? Number(res.headers.get('upload-offset')) : null;
}

/** The course's files on the server: [{name, size, sha}]. */
async function courseFiles(courseId) {
  const rows = await service.sql(`SELECT original_name || '|' || size_bytes || '|' || sha256 FROM course_files WHERE course_id = '${courseId}'`);
  return rows ? rows.split('\n').map((r) => r.split('|')).map(([name, size, sha]) => ({ name, size: Number(size), sha })) : [];
}

let proxy;
after(() => proxy?.close());

/** A tab on the form through a proxy that counts the bytes the browser sends. */
async function openCounted() {
  proxy ??= await byteProxy(service.baseUrl);
  for (const method of Object.keys(proxy.sent)) delete proxy.sent[method];
  const page = await chrome.page();
  await page.goto(proxy.baseUrl);
  return page;
}

test('refused files say why in plain words, the detail on demand; the file area fits a finger on a phone', async () => {
  const page = await openForm(service, chrome);
  await page.setViewportSize({ width: 375, height: 740 });
  await saveState(page, 'idle');
  const link = await page.locator('label[for="file-input"]').boundingBox();
  assert.ok(link.width >= 44 && link.height >= 44, `"choose files" is ${link.width}×${link.height}`);

  const refused = [
    [{ name: 'plan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<!DOCTYPE html><html><body>hi</body></html>') }, 'This file isn’t a PDF, so it wasn’t added.', /declared application\/pdf, detected text\/html/],
    [{ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') }, 'Files of this type can’t be added (allowed: PDF, Word (.docx), PowerPoint (.pptx), text and Markdown files).', /image\/png/],
    [{ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(9 * MiB, 'a') }, 'Too large: the limit is 8 MB.', /HTTP 413/],
  ];
  for (const [file, sentence, detail] of refused) {
    await page.setInputFiles('#file-input', file);
    const item = row(page, file.name).and(page.locator('[data-state="failed"]'));
    await item.waitFor();
    assert.equal(await item.locator('.problem-text').textContent(), sentence);
    const code = item.locator('.problem-detail code');
    assert.ok(await code.isHidden(), 'the detail waits to be asked for');
    assert.match(await code.textContent(), detail);
    await item.locator('.problem-detail summary').click();
    assert.ok(await code.isVisible());
    const dismiss = await item.getByRole('button', { name: `Dismiss ${file.name}` }).boundingBox();
    assert.ok(dismiss.width >= 44 && dismiss.height >= 44, `Dismiss is ${dismiss.width}×${dismiss.height}`);
  }
  assert.match(await page.textContent('#upload-status'), /^huge\.txt: Too large/);
  await screenshot(page, 'upload-refused-phone');
  await page.close();
});
