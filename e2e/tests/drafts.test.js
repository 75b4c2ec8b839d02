// The person's drafts and courses from the page: the offer at the cap of live
// drafts (the oldest, with their files; a confirmation for one with a course),
// discarding the draft being edited (and its journal), the success view (the
// course by its address, its files) with the trash and back in place, and a
// course made by its first upload found in the trash by its topic.
import assert from 'node:assert/strict';
import { suite, browser, openForm, draftId, saveState, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('drafts', {
  env: {
    DRAFTD_MAX_DRAFTS_PER_USER: '50',
    // The test makes and discards drafts by the dozen; a one-second window
    // also leaves no count behind for the next test file (same user, same Redis).
    DRAFTD_WRITE_RATE_LIMIT: '100000',
    DRAFTD_WRITE_RATE_WINDOW_SECS: '1',
  },
}, (s, c) => ([service, chrome] = [s, c]));

/** The demo user's live drafts, every page of them. */
async function liveDrafts() {
  const items = [];
  let cursor = null;
  do {
    const { body } = await service.api('GET', `/api/v1/drafts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

/** A small text file into the draft (the first one makes its course). */
async function upload(id, name = 'notes.txt', text = 'Lesson notes\n') {
  const body = new FormData();
  body.append('file', new Blob([text], { type: 'text/plain' }), name);
  const res = await fetch(`${service.baseUrl}/api/v1/drafts/${id}/files`, {
    method: 'POST', headers: { Authorization: `Bearer ${await service.token()}` }, body,
  });
  assert.equal(res.status, 201);
  return res.json();
}

const newDraft = async (formData) => (await service.api('POST', '/api/v1/drafts', { json: { formData } })).body;

/** The journal records this page's profile holds (IndexedDB). */
const journals = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('draftd-journal', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('journals', { keyPath: 'key' });
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('journals').objectStore('journals').getAll();
    get.onsuccess = () => resolve(get.result);
  };
}));

test('at the cap of 50 drafts the page offers the oldest to discard, with their files, and saving carries on', async () => {
  // Exactly 50 live drafts: the oldest has a course with a file.
  for (const d of await liveDrafts()) await service.api('DELETE', `/api/v1/drafts/${d.id}`);
  const oldest = await newDraft({ topic: 'Oldest, with a file' });
  await upload(oldest.id);
  for (let i = 2; i <= 50; i++) await newDraft({ topic: `Old draft ${i}` });
  assert.equal((await service.api('POST', '/api/v1/drafts', { json: {} })).status, 429);

  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Past the cap');
  const offer = page.locator('#cap');
  await offer.waitFor();
  const first = offer.locator('li').first();
  assert.match(await first.textContent(), /Oldest, with a file.*1 file/s);
  assert.match(await offer.locator('li').nth(1).textContent(), /Old draft 2.*0 files/s);

  // It has a course: discarding it erases the course and its file; asked first.
  await first.getByRole('button', { name: 'Discard “Oldest, with a file”' }).click();
  assert.match(await first.locator('.confirm').textContent(), /its course and its 1 file are erased too/i);
  await first.getByRole('button', { name: 'Discard for good' }).click();
  await offer.waitFor({ state: 'hidden' });
  await saveState(page, 'saved');
  assert.equal((await service.api('GET', `/api/v1/drafts/${oldest.id}`)).status, 410);
  assert.equal(await service.count('courses'), 0);
  assert.deepEqual((await service.draft(await draftId(page))).formData, { topic: 'Past the cap' });
  await page.close();
  // Below the cap again, for the tests that follow.
  for (const d of await liveDrafts()) if (/^Old draft/.test(d.topic)) await service.api('DELETE', `/api/v1/drafts/${d.id}`);
});

test('"Discard draft" asks first; then the draft is gone, and its journal with it', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'To be discarded');
  await saveState(page, 'saved');
  const id = await draftId(page);

  await page.click('#discard');
  assert.match(await page.textContent('#discard-question'), /Discard this draft\?/);
  await page.getByRole('button', { name: 'Keep editing' }).click();
  assert.equal(await page.locator('#discard-confirm').isHidden(), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'discard');

  // Words typed just before, not saved yet: they are in the journal until the discard.
  await page.fill('#description', 'Typed just before discarding');
  await waitFor(async () => (await journals(page)).some((j) => j.fields?.description), { what: 'the edit journaled' });
  await page.click('#discard');
  await page.click('#discard-yes');
  await waitFor(async () => (await page.inputValue('#topic')) === '', { what: 'the form emptied' });
  assert.equal((await service.api('GET', `/api/v1/drafts/${id}`)).status, 410);
  assert.deepEqual((await journals(page)).filter((j) => j.draftId === id || j.fields?.description), []);
  assert.match(await page.textContent('#notice'), /discarded/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'topic');
  await saveState(page, 'idle');

  // What is typed next starts a new draft.
  await page.fill('#topic', 'A fresh start');
  await saveState(page, 'saved');
  assert.notEqual(await draftId(page), id);
  await page.close();
});

test('the success view links the course by its address and lists its files; to the trash and back in place', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Trash and back');
  await page.setInputFiles('#file-input', { name: 'outline.md', mimeType: 'text/markdown', buffer: Buffer.from('# Outline\n') });
  await page.locator('#file-list li[data-state="uploaded"]').waitFor();
  await page.click('#submit');
  await page.locator('#success').waitFor();

  const link = page.locator('#course-link');
  assert.match(await link.textContent(), /^127\.0\.0\.1:\d+\/courses\/trash-and-back-[0-9a-f]{8}$/);
  assert.match(await link.getAttribute('href'), /\/courses\/trash-and-back-[0-9a-f]{8}$/);
  assert.doesNotMatch(await page.textContent('#success'), /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no raw id in words');
  await waitFor(async () => /outline\.md \(10 B\)/.test(await page.textContent('#course-files')), { what: 'the files listed' });
  const courseId = await page.getAttribute('body', 'data-course-id');

  await page.click('#trash-course');
  await page.locator('#restore-course').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'restore-course');
  assert.match(await page.textContent('#trash-note'), /Moved to the trash/);
  assert.ok((await service.api('GET', `/api/v1/courses/${courseId}`)).body.trashedAt);

  await page.click('#restore-course');
  await page.locator('#trash-course').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'trash-course');
  assert.equal(await page.locator('#trash-note').isHidden(), true);
  assert.equal((await service.api('GET', `/api/v1/courses/${courseId}`)).body.trashedAt, null);
  await page.close();
});

test('a course made by its first upload is in the trash by its topic, not under Continue; restored there, it is continued', async () => {
  const draft = await newDraft({});
  const file = await upload(draft.id, 'slides.txt');
  await service.api('PATCH', `/api/v1/drafts/${draft.id}`, { json: { formData: { topic: 'Named after its upload' } } });
  assert.equal((await service.api('DELETE', `/api/v1/courses/${file.courseId}`)).status, 200);

  const device = await browser();
  try {
    const page = await openForm(service, device);
    const row = page.locator('#resume-trash li', { hasText: 'Named after its upload' });
    await row.waitFor();
    assert.match(await row.textContent(), /Deleted just now.*1 file/s);
    assert.equal(await page.locator('#resume-drafts li', { hasText: 'Named after its upload' }).count(), 0, 'not under Continue');
    assert.equal(await page.locator('#resume li', { hasText: 'Untitled course' }).count(), 0);

    await row.getByRole('button', { name: 'Restore “Named after its upload”' }).click();
    const next = row.getByRole('button', { name: 'Continue “Named after its upload”' });
    await next.waitFor();
    assert.match(await row.textContent(), /Restored just now/);
    assert.doesNotMatch(await row.textContent(), /Deleted/);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Continue “Named after its upload”');

    await next.click();
    await waitFor(async () => (await page.inputValue('#topic')) === 'Named after its upload', { what: 'the draft continued' });

    // Trashed again elsewhere while it is open here: the page offers Restore right here.
    assert.equal((await service.api('DELETE', `/api/v1/courses/${file.courseId}`)).status, 200);
    await page.fill('#description', 'Written after the restore');
    await page.locator('#trashed').waitFor();
    await page.getByRole('button', { name: 'Restore the course' }).click();
    await saveState(page, 'saved');
    assert.equal(await page.locator('#trashed').isHidden(), true);
    assert.equal((await service.draft(draft.id)).formData.description, 'Written after the restore');
  } finally {
    await device.close();
  }
});
