// Live across tabs: two pages on one draft see each other's saves as they happen
// (the draft's event stream), without disturbing the field the other is typing
// in; a submit in one turns the other into the success view with a notice.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('live', {}, (s, c) => ([service, chrome] = [s, c]));

/** A second tab on the draft `id`, as a duplicated tab would be. */
async function sameDraft(id) {
  const page = await chrome.page();
  // Before the page's own script runs: as if this tab had the draft already.
  await page.addInitScript((draft) => {
    if (!sessionStorage.getItem('draftd.draft')) sessionStorage.setItem('draftd.draft', JSON.stringify({ id: draft, edits: {} }));
  }, id);
  await page.goto(service.baseUrl);
  await waitFor(async () => (await draftId(page)) === id, { what: 'the second tab on the draft' });
  return page;
}

/** Waits until the page holds an open event stream (its first `hello` arrived). */
async function following(page) {
  await waitFor(() => page.evaluate(() => document.body.dataset.live === 'on'), { what: 'the event stream open' });
}

/** A first tab whose first input opened its draft: the tab and the draft's id. */
async function firstTab(field, value) {
  const a = await openForm(service, chrome);
  await a.fill(field, value);
  await saveState(a, 'saved');
  return [a, await draftId(a)];
}

test("another tab's save fills the fields not being edited, and never the one being typed in", async () => {
  const [a, id] = await firstTab('#language', 'en');
  const b = await sameDraft(id);
  await Promise.all([following(a), following(b)]);

  // A edits a topic and a description; its autosave goes 3 s after. Meanwhile B
  // starts typing a description of its own, which it saves 3 s after that.
  await a.fill('#topic', 'Saved in the first tab');
  await a.fill('#description', 'Description from the first tab');
  await b.click('#description');
  await b.keyboard.type('Typed in the second tab');
  await saveState(a, 'saved');

  await waitFor(async () => (await b.inputValue('#topic')) === 'Saved in the first tab', { what: "the first tab's topic in the second", timeout: 5000 });
  assert.equal(await b.inputValue('#description'), 'Typed in the second tab', 'the field being typed in is left alone');
  assert.match(await b.textContent('#live-note'), /Edited in another tab/);
  assert.equal(await b.locator('#live-note').isVisible(), true);

  // B's own save then goes on top (no conflict: B knew the version), and A,
  // once it leaves the field, shows it.
  await a.click('h1');
  await saveState(b, 'saved');
  const draft = await service.draft(id);
  assert.equal(draft.formData.description, 'Typed in the second tab');
  assert.equal(draft.formData.topic, 'Saved in the first tab');
  await waitFor(async () => (await a.inputValue('#description')) === 'Typed in the second tab', { what: "the second tab's save in the first", timeout: 5000 });
});

test('a submit in one tab turns the other into the success view with a notice', async () => {
  const [a, id] = await firstTab('#topic', 'Submitted from the first tab');
  const b = await sameDraft(id);
  await Promise.all([following(a), following(b)]);
  await a.click('#submit');
  await a.locator('#success').waitFor();

  await b.locator('#success').waitFor({ timeout: 5000 });
  assert.match(await b.textContent('#live-note'), /submitted in another tab/);
  assert.equal(await b.textContent('#success-topic'), 'Submitted from the first tab');
  assert.equal(await b.$eval('#form-fields', (fields) => fields.disabled), true);
  assert.equal(await service.count('courses'), 1);
});
