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

test('a submit during an upload waits for it ("Finishing 1 upload…"), and the course holds the file; progress moves within a chunk', async () => {
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB });
  const SIZE = 2 * MiB; // one chunk (5 MiB): before, the bar stood at 0 until its answer
  const bytes = material(SIZE);
  await page.setInputFiles('#file-input', { name: 'outline.txt', mimeType: 'text/plain', buffer: bytes });

  const bar = page.getByRole('progressbar', { name: 'Uploading outline.txt' });
  await waitFor(async () => {
    const at = await progress(page);
    return at > 0 && at < SIZE;
  }, { interval: 50, what: 'progress within the first chunk' });
  assert.equal(await row(page, 'outline.txt').getAttribute('data-state'), 'uploading');
  assert.match(await bar.getAttribute('aria-valuetext'), /^\d+%$/);
  assert.equal(await page.getAttribute('#save-status', 'data-state'), 'saving', 'a file on its way is not "Saved"');

  await page.fill('#topic', 'Submitted while uploading'); // saved by the submit
  await page.click('#submit');
  await page.locator('#submit', { hasText: 'Finishing 1 upload…' }).waitFor();
  assert.ok(await page.isDisabled('#submit'));
  assert.match(await page.textContent('#upload-status'), /Finishing 1 upload…/);
  assert.ok(await page.locator('#success').isHidden(), 'no success while the file is on its way');
  await screenshot(page, 'upload-submit-finishing');

  await page.locator('#success').waitFor({ timeout: 20_000 });
  const courseId = await page.getAttribute('body', 'data-course-id');
  assert.equal(await service.sql(`SELECT status FROM courses WHERE id = '${courseId}'`), 'submitted');
  assert.deepEqual(await courseFiles(courseId), [{ name: 'outline.txt', size: SIZE, sha: sha256(bytes) }]);
  await page.close();
});

test('offline mid-upload the status says so, not "Saved"; leaving asks first while a file is on its way, not after', async () => {
  const page = await openForm(service, chrome);
  await page.click('#topic'); // a person's gesture: Chromium asks before unload only after one
  await page.fill('#topic', 'Leaving while uploading');
  await saveState(page, 'saved');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB / 2 });
  await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: material(MiB, 'notes') });
  await waitFor(async () => (await progress(page)) > 0, { interval: 50, what: 'the upload under way' });

  await emulate({ offline: true });
  await row(page, 'notes.txt').locator('.file-meta', { hasText: 'waiting for the connection' }).waitFor();
  await saveState(page, 'offline');
  assert.equal(await page.textContent('#save-status .label'), 'Offline, will retry');

  const asked = new Promise((resolve) => page.once('dialog', (dialog) => resolve(dialog.type()) || dialog.dismiss()));
  await page.close({ runBeforeUnload: true });
  assert.equal(await asked, 'beforeunload');
  assert.ok(!page.isClosed(), 'staying was an option');

  await emulate({});
  await row(page, 'notes.txt').and(page.locator('[data-state="uploaded"]')).waitFor({ timeout: 20_000 });
  await saveState(page, 'saved');
  let dialogs = 0;
  page.on('dialog', (dialog) => dialogs++ && dialog.accept());
  const closed = new Promise((resolve) => page.once('close', resolve));
  await page.close({ runBeforeUnload: true });
  await closed;
  assert.equal(dialogs, 0, 'nothing on its way: no question');
});

test('Pause keeps what the server holds: resumed, the upload sends no byte twice, and the file arrives whole', async () => {
  const page = await openCounted();
  await page.fill('#topic', 'Paused mid-chunk');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB });
  const SIZE = 3 * MiB;
  const bytes = material(SIZE);
  await page.setInputFiles('#file-input', { name: 'outline.txt', mimeType: 'text/plain', buffer: bytes });
  await waitFor(async () => (await progress(page)) > 1.3 * MiB, { interval: 50, what: 'part of the chunk sent' });

  await row(page, 'outline.txt').getByRole('button', { name: 'Pause the upload of outline.txt' }).click();
  const url = await uploadUrl(page, 'outline.txt');
  // The bar settles on what the server holds: the part of the chunk that arrived.
  const held = await waitFor(async () => {
    const [shown, offset] = [await progress(page), await serverOffset(url)];
    return shown === offset && offset > MiB && offset;
  }, { interval: 100, what: 'the bar at the server offset' });
  assert.match(await row(page, 'outline.txt').textContent(), /paused/);
  const sentBefore = proxy.sent.PATCH;
  assert.ok(held <= sentBefore, `held ${held} of ${sentBefore} sent`);

  await emulate({});
  await row(page, 'outline.txt').getByRole('button', { name: 'Resume the upload of outline.txt' }).click();
  await row(page, 'outline.txt').and(page.locator('[data-state="uploaded"]')).waitFor({ timeout: 20_000 });
  await row(page, 'outline.txt').getByRole('button', { name: 'Remove outline.txt' }).waitFor();
  const slack = 64 << 10; // bytes on their way when the chunk was cut
  assert.ok(proxy.sent.PATCH <= SIZE + slack, `${proxy.sent.PATCH} bytes sent for a file of ${SIZE}`);
  const courseId = (await service.draft(await draftId(page))).courseId;
  assert.deepEqual(await courseFiles(courseId), [{ name: 'outline.txt', size: SIZE, sha: sha256(bytes) }]);
  await page.close();
});

test('a reload mid-upload shows the file by name, paused; choosing it again resumes from the server offset', async () => {
  const page = await openCounted();
  page.on('dialog', (dialog) => dialog.accept()); // the reload is meant
  await page.fill('#topic', 'Reloaded mid-upload');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB });
  const SIZE = 3 * MiB;
  const bytes = material(SIZE, 'slides');
  const file = onDisk('slides.txt', bytes);
  await page.setInputFiles('#file-input', file);
  await waitFor(async () => (await progress(page)) > 1.2 * MiB, { interval: 50, what: 'part of the file sent' });
  const url = await uploadUrl(page, 'slides.txt');

  await page.reload();
  const item = row(page, 'slides.txt');
  await item.and(page.locator('[data-state="paused"]')).waitFor();
  await item.locator('.file-meta', { hasText: /Paused at .* of 3\.0 MB\. Drop or choose the file again to resume\./ }).waitFor();
  const offset = await serverOffset(url);
  assert.ok(offset > 0 && offset < SIZE, `the server holds ${offset}`);
  assert.equal(await page.getAttribute('#save-status', 'data-state'), 'pending', 'a half-sent file is unsaved work');
  await screenshot(page, 'upload-reloaded');

  await emulate({});
  const sentBefore = proxy.sent.PATCH;
  await page.setInputFiles('#file-input', file);
  await item.and(page.locator('[data-state="uploaded"]')).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('#file-list li').count(), 1, 'the same row, not a second one');
  const resent = proxy.sent.PATCH - sentBefore;
  assert.ok(resent <= SIZE - offset + (64 << 10), `resumed from ${offset}: sent ${resent} more of ${SIZE}`);
  const courseId = (await service.draft(await draftId(page))).courseId;
  assert.deepEqual(await courseFiles(courseId), [{ name: 'slides.txt', size: SIZE, sha: sha256(bytes) }]);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('draftd.uploads:')).length), 0, 'nothing left to resume');
  await page.close();
});

test('a paused upload the server has let go of is named as expired after a reload', async () => {
  const page = await openForm(service, chrome);
  page.on('dialog', (dialog) => dialog.accept());
  await page.fill('#topic', 'Expired upload');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB / 2 });
  await page.setInputFiles('#file-input', onDisk('old.txt', material(MiB, 'old')));
  await waitFor(async () => (await progress(page)) > 0, { interval: 50, what: 'the upload under way' });
  await row(page, 'old.txt').getByRole('button', { name: 'Pause the upload of old.txt' }).click();
  const url = await uploadUrl(page, 'old.txt');
  // As an expiry would: the server drops the upload (once the cut chunk is recorded: 423 until then).
  await waitFor(async () => {
    const res = await fetch(service.baseUrl + url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${await service.token()}` } });
    return res.status === 204;
  }, { what: 'the upload terminated' });

  await page.reload();
  await row(page, 'old.txt').locator('.file-meta', { hasText: 'The part uploaded earlier has expired on the server. Drop or choose the file again to upload it from the start.' }).waitFor();
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('draftd.uploads:')).length), 0);
  await page.close();
});

test('a paused upload at submit: the person chooses to go back, or to submit without it (its bytes dropped)', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Submitted without a paused file');
  const emulate = await network(page);
  await emulate({ uploadThroughput: MiB / 2 });
  await page.setInputFiles('#file-input', { name: 'draft.md', mimeType: 'text/markdown', buffer: material(MiB, 'draft') });
  await waitFor(async () => (await progress(page)) > 0, { interval: 50, what: 'the upload under way' });
  await row(page, 'draft.md').getByRole('button', { name: 'Pause the upload of draft.md' }).click();
  const url = await uploadUrl(page, 'draft.md');

  await page.click('#submit');
  const dialog = page.getByRole('dialog', { name: '1 file is not uploaded yet' });
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /draft\.md \(paused\)/);
  await screenshot(page, 'upload-submit-paused');
  await dialog.getByRole('button', { name: 'Go back' }).click();
  await page.locator('#submit', { hasText: 'Create course' }).waitFor();
  assert.equal(await service.count('courses', `draft_session_id = '${await draftId(page)}'`), 0, 'nothing submitted');

  await page.click('#submit');
  await dialog.getByRole('button', { name: 'Submit without it' }).click();
  await page.locator('#success').waitFor();
  const courseId = await page.getAttribute('body', 'data-course-id');
  assert.deepEqual(await courseFiles(courseId), []);
  assert.equal(await serverOffset(url), null, 'the half-sent bytes are dropped');
  await page.close();
});

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
