// Files: the first upload makes the course row; autosave and submit go on with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite, openForm, draftId, saveState, screenshot, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('upload', {}, (s, c) => ([service, chrome] = [s, c]));

const PLAN = '# Week 1\nOwnership and borrowing\n';

test('the first upload creates one course row and a stored file; autosave goes on; submit adds no row', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Rust with files');
  await saveState(page, 'saved');
  const id = await draftId(page);
  assert.equal(await service.count('courses'), 0);

  await page.setInputFiles('#file-input', { name: 'plan.md', mimeType: 'text/markdown', buffer: Buffer.from(PLAN) });
  const item = page.locator('#file-list li[data-state="uploaded"]');
  await item.waitFor();
  assert.match(await item.textContent(), new RegExp(`plan\\.md.*${PLAN.length} B`));

  assert.equal(await service.count('courses'), 1);
  const [courseId, by, status] = (await service.sql(`SELECT id, materialized_by, status FROM courses WHERE draft_session_id = '${id}'`)).split('|');
  assert.deepEqual([by, status], ['upload', 'draft']);
  assert.equal(await page.getAttribute('body', 'data-course-id'), courseId, 'the page uses the course id of the upload');
  const files = (await service.sql(`SELECT id, original_name, size_bytes, storage_key FROM course_files WHERE course_id = '${courseId}'`)).split('\n');
  assert.equal(files.length, 1);
  const [fileId, name, size, key] = files[0].split('|');
  assert.deepEqual([name, size, await item.getAttribute('data-file-id')], ['plan.md', String(PLAN.length), fileId]);
  assert.equal(readFileSync(path.join(service.uploadDir, key), 'utf8'), PLAN, 'the bytes are in storage');
  await screenshot(page, '05-uploaded');

  // Typing after the upload still autosaves, into the same draft.
  await page.fill('#description', 'Added after the upload');
  await waitFor(async () => (await service.draft(id)).formData.description === 'Added after the upload', { timeout: 15_000, what: 'the autosave after the upload' });
  assert.equal((await service.draft(id)).status, 'materialized');

  // A reload lists the course's files again.
  await page.reload();
  await page.locator(`#file-list li[data-file-id="${fileId}"]`).waitFor();
  assert.equal(await page.inputValue('#description'), 'Added after the upload');

  await page.click('#submit');
  await page.locator('#success').waitFor();
  assert.equal(await service.count('courses'), 1, 'submit reuses the row of the upload');
  const [status2, title, form] = (await service.sql(`SELECT status, title, form_data FROM courses WHERE id = '${courseId}'`)).split('|');
  assert.equal(status2, 'submitted');
  assert.equal(title, 'Rust with files');
  assert.deepEqual(JSON.parse(form), { topic: 'Rust with files', description: 'Added after the upload' });
  await page.close();
});

test('drag and drop uploads, Remove deletes the file, a refused type and a file that lies are reported', async () => {
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');

  // Nothing typed yet: the drop itself opens the draft.
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['Reading list\n'], 'notes.txt', { type: 'text/plain' }));
    return dt;
  });
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
  await page.locator('#file-list li[data-state="uploaded"]').waitFor();
  const id = await draftId(page);
  const courseId = await service.sql(`SELECT id FROM courses WHERE draft_session_id = '${id}'`);
  assert.ok(courseId, 'the dropped file made the course row of the draft it opened');
  assert.equal(await service.count('course_files', `course_id = '${courseId}'`), 1);

  await page.setInputFiles('#file-input', { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
  const failed = page.locator('#file-list li[data-state="failed"]');
  await failed.waitFor();
  assert.match(await failed.textContent(), /photo\.png.*Files of this type can’t be added/);
  await screenshot(page, '06-upload-refused');

  // HTML named and declared as a PDF: said plainly, with what the service found in the detail.
  await page.setInputFiles('#file-input', { name: 'plan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<!DOCTYPE html><html><body>hi</body></html>') });
  const lying = page.locator('#file-list li[data-state="failed"]', { hasText: 'plan.pdf' });
  await lying.waitFor();
  assert.equal(await lying.locator('.problem-text').textContent(), 'This file isn’t a PDF, so it wasn’t added.');
  assert.match(await lying.locator('.problem-detail').textContent(), /declared application\/pdf, detected text\/html/);

  await page.click('#file-list li[data-state="uploaded"] .remove');
  await page.locator('#file-list li[data-state="uploaded"]').waitFor({ state: 'detached' });
  assert.equal(await service.count('course_files', `course_id = '${courseId}'`), 0);
  assert.equal(await service.count('courses', `draft_session_id = '${id}'`), 1, 'the course stays; only the file went');
  await page.close();
});
