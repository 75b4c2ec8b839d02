// Live across tabs: two pages on one draft see each other's saves as they happen
// (the draft's event stream); a save of the field the other is typing in is
// never silent there: both versions are shown, Keep mine or Use theirs; a submit
// in one turns the other into the success view with a notice (and the one that
// submitted is not told it was "another tab").
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, staysTrue, waitFor, test } from '../lib/harness.js';

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

/** The note is on screen, below the sticky bar, wherever the page is scrolled. */
async function noteInView(page) {
  return page.evaluate(() => {
    const note = document.querySelector('#live-note').getBoundingClientRect();
    const bar = document.querySelector('.topbar').getBoundingClientRect();
    return !document.querySelector('#live-note').hidden && note.height > 0 && note.top >= bar.bottom && note.bottom <= innerHeight;
  });
}

/** The If-Match of every autosave the page sends. */
function patchesOf(page) {
  const tags = [];
  page.on('request', (r) => r.method() === 'PATCH' && /\/api\/v1\/drafts\/[^/]+$/.test(r.url()) && tags.push(r.headers()['if-match']));
  return tags;
}

test("another tab's save fills the fields not being edited; the one being typed in shows both versions", async () => {
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
  // Both versions, side by side, and nothing saved over the other until B chooses.
  const box = b.locator('#description-conflict');
  await box.waitFor();
  assert.match(await box.textContent(), /Description from the first tab/);
  await saveState(b, 'conflict');
  assert.match(await b.textContent('#live-note'), /changed “Description” while you were editing/);
  assert.equal(await noteInView(b), true);
  assert.equal((await service.draft(id)).formData.description, 'Description from the first tab');

  // Keep mine: B's text goes over A's, and A, once it leaves the field, shows it.
  await a.click('h1');
  await box.getByRole('button', { name: 'Keep mine' }).click();
  await saveState(b, 'saved');
  await box.waitFor({ state: 'detached' });
  const draft = await service.draft(id);
  assert.equal(draft.formData.description, 'Typed in the second tab');
  assert.equal(draft.formData.topic, 'Saved in the first tab');
  await waitFor(async () => (await a.inputValue('#description')) === 'Typed in the second tab', { what: "the second tab's save in the first", timeout: 5000 });
  // Each tab holds an event stream: Chromium opens at most 6 connections to one host.
  await Promise.all([a.close(), b.close()]);
});

test('typing in the same field in two tabs is never silent: Keep mine saves over theirs, Use theirs takes it', async () => {
  const [a, id] = await firstTab('#topic', 'Two tabs, one field');
  const b = await sameDraft(id);
  await Promise.all([following(a), following(b)]);
  const aPatches = patchesOf(a);

  // A field low on the page, so that the page is scrolled under the sticky bar.
  await a.fill('#learningOutcomes', 'Outcomes typed in A');
  await saveState(a, 'saved');
  await b.fill('#learningOutcomes', 'Outcomes typed in B');
  await saveState(b, 'saved');
  const theirs = (await service.draft(id)).version;

  // A is still in the field: it is not told "Saved" with B's text on the server.
  const box = a.locator('#learningOutcomes-conflict');
  await box.waitFor({ timeout: 5000 });
  await saveState(a, 'conflict');
  assert.equal(await a.inputValue('#learningOutcomes'), 'Outcomes typed in A');
  assert.match(await box.textContent(), /Outcomes typed in B/);
  assert.equal(await a.evaluate(() => scrollY > 0), true, 'the page is scrolled');
  assert.equal(await noteInView(a), true, 'the note is on screen, not under the bar');
  // Leaving the field does not turn A's text into B's.
  await a.click('h1');
  assert.equal(await a.inputValue('#learningOutcomes'), 'Outcomes typed in A');

  await box.getByRole('button', { name: 'Keep mine' }).click();
  await saveState(a, 'saved');
  assert.equal((await service.draft(id)).formData.learningOutcomes, 'Outcomes typed in A');
  assert.equal(aPatches.at(-1), `"${theirs}"`, 'saved over the version holding B\'s text');
  assert.equal(await a.evaluate(() => document.activeElement.id), 'learningOutcomes');

  // B was in the field too: it now sees A's text beside its own, and takes it.
  const bBox = b.locator('#learningOutcomes-conflict');
  await bBox.waitFor({ timeout: 5000 });
  await bBox.getByRole('button', { name: 'Use theirs' }).click();
  await bBox.waitFor({ state: 'detached' });
  assert.equal(await b.inputValue('#learningOutcomes'), 'Outcomes typed in A');
  await saveState(b, 'saved');
  assert.equal((await service.draft(id)).formData.learningOutcomes, 'Outcomes typed in A');
  await Promise.all([a.close(), b.close()]);
});

test('a submit in one tab turns the other into the success view with a notice', async () => {
  const [a, id] = await firstTab('#topic', 'Submitted from the first tab');
  const b = await sameDraft(id);
  await Promise.all([following(a), following(b)]);
  // A's own stream tells it of the submit too. Its answer is held until the
  // event has surely gone out (B shows it), so that A reads the event first.
  await a.route('**/submit', async (route) => {
    const answer = await route.fetch();
    await b.locator('#success').waitFor({ timeout: 5000 });
    await route.fulfill({ response: answer });
  });
  await a.click('#submit');
  await a.locator('#success').waitFor();

  await b.locator('#success').waitFor({ timeout: 5000 });
  assert.match(await b.textContent('#live-note'), /submitted in another tab/);
  // The tab that submitted: its own submit, not another tab's.
  await staysTrue(async () => !/submitted in another tab/.test(await a.textContent('#live-note')), 1000, 'no "another tab" note after its own submit');
  assert.equal(await b.textContent('#success-topic'), 'Submitted from the first tab');
  assert.equal(await b.$eval('#form-fields', (fields) => fields.disabled), true);
  assert.equal(await service.count('courses'), 1);
});
