// Autosave: debounced merge patches with If-Match, restore on reload, conflicts,
// an expired draft replaced by a new one carrying the form.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, screenshot, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('autosave', {}, (s, c) => ([service, chrome] = [s, c]));

/** The PATCH requests the page sends: [{ifMatch, body}]. */
function recordPatches(page) {
  const patches = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') patches.push({ ifMatch: req.headers()['if-match'], body: req.postDataJSON() });
  });
  return patches;
}

test('typing autosaves about 3 s after the last keystroke, and a reload shows it again', async () => {
  const page = await chrome.page();
  const patches = recordPatches(page);
  await page.goto(service.baseUrl);
  await saveState(page, 'idle');

  await page.locator('#topic').pressSequentially('Rust for data analysts', { delay: 20 });
  await page.fill('#language', 'en');
  await page.fill('#estimatedLessons', '12');
  await page.check('input[name="formats"][value="video"]');
  await page.check('input[name="formats"][value="quiz"]');
  const lastKeystroke = Date.now();
  // Nothing is in flight yet: the pill says so rather than "Saving…".
  await saveState(page, 'pending', 1000);
  await screenshot(page, '02-saving');
  const id = await draftId(page);

  const saved = await waitFor(
    async () => {
      const draft = await service.draft(id);
      return draft.formData.topic === 'Rust for data analysts' && draft.formData.formats?.length === 2 && draft;
    },
    { timeout: 6000, interval: 50, what: 'the autosave' },
  );
  const elapsed = Date.now() - lastKeystroke;
  assert.ok(elapsed >= 2500 && elapsed <= 5000, `saved ${elapsed} ms after the last keystroke`);
  assert.deepEqual(saved.formData, {
    topic: 'Rust for data analysts', language: 'en', estimatedLessons: 12, formats: ['video', 'quiz'],
  });
  // The first input opens the draft: one create for the whole burst of typing, no patch.
  assert.equal(patches.length, 0);
  await saveState(page, 'saved');
  await screenshot(page, '03-saved');

  // A second change sends only that field, with the ETag of the last save.
  await page.fill('#estimatedLessons', '');
  await page.fill('#description', 'From zero to a CLI tool');
  await waitFor(async () => (await service.draft(id)).version === 2, { what: 'the second autosave' });
  assert.deepEqual(patches[0], { ifMatch: '"1"', body: { formData: { estimatedLessons: null, description: 'From zero to a CLI tool' } } });

  await page.reload();
  await saveState(page, 'saved');
  assert.equal(await draftId(page), id);
  assert.equal(await page.inputValue('#topic'), 'Rust for data analysts');
  assert.equal(await page.inputValue('#description'), 'From zero to a CLI tool');
  assert.equal(await page.inputValue('#language'), 'en');
  assert.equal(await page.inputValue('#estimatedLessons'), '');
  assert.ok(await page.isChecked('input[name="formats"][value="quiz"]'));
  assert.ok(!(await page.isChecked('input[name="formats"][value="text"]')));
  assert.equal(await service.count('courses'), 0);
  await page.close();
});

test('a conflict keeps the local edit, takes the other writer\'s fields, and asks which topic to keep', async () => {
  // Without its event stream, as while it reconnects: the page learns of the
  // other writer only from the 412 (with the stream, it would take the change
  // before saving; tests/live.test.js).
  const page = await chrome.page();
  await page.route('**/api/v1/drafts/*/events', (route) => route.abort());
  await page.goto(service.baseUrl);
  await page.fill('#topic', 'Mine');
  await saveState(page, 'saved');
  const id = await draftId(page);

  // Another tab or device writes meanwhile: the page's ETag is now stale.
  const other = await service.api('PATCH', `/api/v1/drafts/${id}`, {
    json: { formData: { description: 'Written elsewhere', topic: 'Theirs' } },
    headers: { 'If-Match': '"1"' },
  });
  assert.equal(other.status, 200);

  await page.fill('#topic', 'Mine, edited');
  await saveState(page, 'conflict');
  await waitFor(async () => (await page.inputValue('#description')) === 'Written elsewhere', { what: 'the refetched field in the form' });
  assert.equal(await page.inputValue('#topic'), 'Mine, edited', 'the unsaved local edit is kept');
  // Both sides changed the topic: nothing is saved over "Theirs" until the person says so.
  const box = page.locator('#topic-conflict');
  await box.waitFor();
  assert.match(await box.textContent(), /Theirs/);
  await screenshot(page, '04-conflict');
  assert.equal((await service.draft(id)).formData.topic, 'Theirs');

  await box.getByRole('button', { name: 'Keep mine' }).click();
  await saveState(page, 'saved');
  const draft = await service.draft(id);
  assert.deepEqual(draft.formData, { topic: 'Mine, edited', description: 'Written elsewhere' });
  await page.close();
});

test('an expired draft is replaced by a new one holding the form', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Before expiry');
  await saveState(page, 'saved');
  const oldId = await draftId(page);

  // What expiry looks like to the page: the draft answers 404.
  assert.equal((await service.api('DELETE', `/api/v1/drafts/${oldId}`)).status, 204);

  await page.fill('#description', 'After expiry');
  const newId = await waitFor(async () => {
    const id = await draftId(page);
    return id !== oldId && id;
  }, { timeout: 15_000, what: 'a new draft id' });
  await saveState(page, 'saved');
  assert.deepEqual((await service.draft(newId)).formData, { topic: 'Before expiry', description: 'After expiry' });
  assert.equal(await service.count('courses'), 0);
  await page.close();
});
