// Resumable uploads in the page (tus): a progress bar, Pause and Resume, and an
// upload that carries on from where the server is after the network drops.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { suite, openForm, draftId, fillForm, screenshot, waitFor, test, ROOT } from '../lib/harness.js';

let service, chrome;
suite('resumable-upload', {}, (s, c) => ([service, chrome] = [s, c]));

const SIZE = 12 << 20;
/** A text file of SIZE bytes: numbered lines, so that any misplaced chunk shows. */
function material() {
  const lines = [];
  let size = 0;
  for (let i = 0; size < SIZE; i++) {
    const line = `Line ${i} of the course outline: lessons, exercises, notes.\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, SIZE);
}

/**
 * The page's network, through Chromium's emulation: `offline`, or uploads slowed
 * to `upload` bytes a second (-1: not slowed), so that the test can act mid-way.
 */
async function network(page) {
  const cdp = await page.context().newCDPSession(page);
  return (conditions) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1, ...conditions });
}

const progress = (page) => page.$eval('#file-list progress', (bar) => bar.value).catch(() => null);

test('an upload shows its progress, pauses, and resumes after the network drops', async () => {
  // Another unfinished draft: the page offers it in its tray.
  await service.api('POST', '/api/v1/drafts', { json: { formData: { topic: 'Data pipelines in Rust', language: 'en', estimatedLessons: 8 } } });
  const page = await openForm(service, chrome);
  await page.locator('#resume-drafts li', { hasText: 'Data pipelines in Rust' }).waitFor();
  await page.fill('#topic', 'Rust for analysts');
  await page.fill('#description', 'From zero to a command-line tool, one small program at a time.');
  if (process.env.DRAFTD_E2E_DOCS_SCREENSHOT) {
    // The README's picture: the form as a person fills it in.
    await fillForm(page, {
      language: 'en',
      email: 'teacher@example.com',
      targetAudience: 'Analysts who know SQL and a little Python, and have never written Rust.',
      learningOutcomes: 'Read and change a small Rust program\nTurn a CSV report into a command-line tool',
      estimatedSections: 4,
      estimatedLessons: 12,
      lessonDuration: 20,
      formats: ['text', 'exercises'],
      writingStyle: 'Conversational',
      contentStrategy: 'Project-based',
    });
  }
  await page.click('h1');

  const bytes = material();
  const emulate = await network(page);
  await emulate({ uploadThroughput: 3 << 20 });
  await page.setInputFiles('#file-input', { name: 'outline.txt', mimeType: 'text/plain', buffer: bytes });
  const item = page.locator('#file-list li', { hasText: 'outline.txt' });
  await waitFor(async () => (await progress(page)) > 0, { what: 'a first chunk stored' });

  // Pause: nothing more is sent until Resume, and the bar shows what the server
  // holds (the part of the chunk in flight that arrived is kept).
  await item.getByRole('button', { name: 'Pause the upload of outline.txt' }).click();
  await waitFor(async () => /paused/.test(await item.textContent()), { what: 'the upload paused' });
  const url = await page.evaluate(() => Object.values(localStorage).join(' ').match(/\/api\/v1\/drafts\/[^\s"]+\/uploads\/[0-9a-f-]+/)[0]);
  const paused = await waitFor(async () => {
    const res = await fetch(service.baseUrl + url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${await service.token()}` } });
    const held = Number(res.headers.get('upload-offset'));
    return (await progress(page)) === held && held;
  }, { what: 'the bar at the offset the server holds' });
  if (process.env.DRAFTD_E2E_DOCS_SCREENSHOT) {
    // The README's picture: the page as a person sees it with an upload under
    // way, the tray closed (in a whole run it lists other test files' drafts
    // too, of the same demo user, over the middle of the form).
    await page.click('#resume-dismiss');
    await page.locator('#resume').waitFor({ state: 'hidden' });
    await page.evaluate(() => document.activeElement?.blur());
    await page.setViewportSize({ width: 880, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ROOT, 'docs', 'page.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  }
  await screenshot(page, 'upload-paused');
  assert.ok(paused > 0 && paused < SIZE, `paused at ${paused}`);

  // The network goes away while it is paused; Resume then waits for it, and
  // carries on from the server's offset once it is back.
  await emulate({ offline: true });
  await item.getByRole('button', { name: 'Resume the upload of outline.txt' }).click();
  await item.locator('.file-meta', { hasText: 'waiting for the connection' }).waitFor();
  assert.equal(await progress(page), paused, 'nothing sent while offline');
  await emulate({});
  let lowest = SIZE;
  await waitFor(async () => {
    const at = await progress(page);
    if (at !== null) lowest = Math.min(lowest, at);
    return (await item.getAttribute('data-state')) === 'uploaded';
  }, { timeout: 60_000, interval: 50, what: 'the upload finished' });
  assert.ok(lowest >= paused, `it went on from the server's offset (${paused}), not from ${lowest}`);

  // One file, byte for byte what was chosen; the draft (opened by the first
  // input) became a course.
  const id = await draftId(page);
  const courseId = (await service.draft(id)).courseId;
  assert.ok(courseId);
  const files = (await service.sql(`SELECT id || '|' || size_bytes || '|' || sha256 FROM course_files WHERE course_id = '${courseId}'`)).split('\n');
  assert.equal(files.length, 1);
  const [fileId, size, sha] = files[0].split('|');
  assert.equal(Number(size), SIZE);
  assert.equal(sha, createHash('sha256').update(bytes).digest('hex'));
  const download = await fetch(`${service.baseUrl}/api/v1/courses/${courseId}/files/${fileId}`, { headers: { Authorization: `Bearer ${await service.token()}` } });
  assert.equal(createHash('sha256').update(Buffer.from(await download.arrayBuffer())).digest('hex'), sha);
  assert.equal(await page.textContent('#upload-status'), 'outline.txt uploaded.');
});
