// Opening the form is free: no draft until the first input, no course row in Postgres.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, screenshot, staysTrue, test } from '../lib/harness.js';

let service, chrome;
suite('visit', {}, (s, c) => ([service, chrome] = [s, c]));

test('visiting the page writes nothing: no draft, no course row, even after waiting and reloading; the first input opens the draft', async () => {
  const before = (await service.api('GET', '/api/v1/drafts?limit=100')).body.items.length;
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');
  await screenshot(page, '01-empty');

  // Longer than the autosave delay: nothing is written behind the user's back.
  await staysTrue(async () => (await service.count('courses')) === 0, 4000, 'no course row');
  await page.reload();
  await saveState(page, 'idle');
  await staysTrue(async () => (await service.api('GET', '/api/v1/drafts?limit=100')).body.items.length === before, 1000, 'no draft opened');

  await page.fill('#topic', 'First words');
  await saveState(page, 'saved');
  const draft = await service.draft(await draftId(page));
  assert.equal(draft.status, 'open');
  assert.deepEqual(draft.formData, { topic: 'First words' });
  assert.equal(await service.count('courses'), 0);
});
