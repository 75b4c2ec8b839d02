// Opening the form is free: a draft in Redis, no course row in Postgres.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, screenshot, staysTrue, test } from '../lib/harness.js';

let service, chrome;
suite('visit', {}, (s, c) => ([service, chrome] = [s, c]));

test('visiting the page opens a draft and creates no course row, even after waiting and reloading', async () => {
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');
  const id = await draftId(page);

  const draft = await service.draft(id);
  assert.equal(draft.status, 'open');
  assert.equal(draft.courseId, null);
  assert.deepEqual(draft.formData, {});
  await screenshot(page, '01-empty');

  // Longer than the autosave delay: nothing is written behind the user's back.
  await staysTrue(async () => (await service.count('courses')) === 0, 4000, 'no course row');

  await page.reload();
  await saveState(page, 'idle');
  assert.equal(await draftId(page), id, 'a reload keeps the same draft');
  await staysTrue(async () => (await service.count('courses')) === 0, 1000, 'no course row after reload');
  assert.equal((await service.draft(id)).version, 1, 'nothing was autosaved');
});
