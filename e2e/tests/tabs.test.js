// Two tabs, two drafts: sessionStorage is per tab, each tab opens its own draft on
// its first input, and neither makes a course row until one submits.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, test } from '../lib/harness.js';

let service, chrome;
suite('tabs', {}, (s, c) => ([service, chrome] = [s, c]));

test('two tabs make two drafts and no course rows until one submits', async () => {
  const first = await chrome.page();
  const second = await chrome.page();
  await Promise.all([first.goto(service.baseUrl), second.goto(service.baseUrl)]);
  await Promise.all([saveState(first, 'idle'), saveState(second, 'idle')]);

  await first.fill('#topic', 'First tab course');
  await second.fill('#topic', 'Second tab course');
  await Promise.all([saveState(first, 'saved'), saveState(second, 'saved')]);
  const [a, b] = await Promise.all([draftId(first), draftId(second)]);
  assert.notEqual(a, b);
  assert.equal((await service.draft(a)).formData.topic, 'First tab course');
  assert.equal((await service.draft(b)).formData.topic, 'Second tab course');
  assert.equal(await service.count('courses'), 0);

  await first.click('#submit');
  await first.locator('#success').waitFor();
  assert.equal(await service.count('courses'), 1);
  assert.equal(await service.sql('SELECT draft_session_id || \'|\' || title FROM courses'), `${a}|First tab course`);

  // The other tab carries on with its own draft.
  const other = await service.draft(b);
  assert.deepEqual([other.status, other.courseId], ['open', null]);
  await second.fill('#description', 'Still drafting');
  await saveState(second, 'saved');
  assert.equal((await service.draft(b)).formData.description, 'Still drafting');
  assert.equal(await service.count('courses'), 1);
});
