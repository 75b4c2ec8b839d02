// The service goes away while the user types: the page keeps the input, says
// "Offline, will retry", and saves it once the service is back.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, screenshot, test } from '../lib/harness.js';

let service, chrome;
suite('offline', {}, (s, c) => ([service, chrome] = [s, c]));

test('with the service down the page keeps the input and saves it once the service is back', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Resilient course');
  await saveState(page, 'saved');
  const id = await draftId(page);

  await service.kill();
  await page.fill('#description', 'Typed while the server was down');
  await saveState(page, 'offline', 10_000);
  assert.match(await page.textContent('#save-status'), /Offline, will retry/);
  // More typing while offline is kept too.
  await page.fill('#lessonDuration', '45');
  await screenshot(page, '09-offline');
  assert.equal(await page.inputValue('#description'), 'Typed while the server was down');
  assert.deepEqual((await page.evaluate(() => JSON.parse(sessionStorage.getItem('draftd.draft')))).edits,
    { description: 'Typed while the server was down', lessonDuration: 45 }, 'unsaved edits survive a reload too');

  await service.start();
  // Backoff of 1, 2, 4, 8… s: the next retry comes within the current step.
  await saveState(page, 'saved', 35_000);
  const draft = await service.draft(id);
  assert.deepEqual(draft.formData, { topic: 'Resilient course', description: 'Typed while the server was down', lessonDuration: 45 });
  assert.equal(await service.count('courses'), 0);

  await page.reload();
  await saveState(page, 'saved');
  assert.equal(await page.inputValue('#description'), 'Typed while the server was down');
});
