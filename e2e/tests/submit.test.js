// Submit: strict validation shown by the fields; a valid form becomes one course row.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, fillForm, saveState, screenshot, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('submit', {}, (s, c) => ([service, chrome] = [s, c]));

const fieldError = (page, name) => page.locator(`#${name}-error`);

/** A whole course as a person fills it in, field by field in the page's order. */
const COURSE = {
  topic: 'Основы Rust',
  description: 'From zero to a command-line tool, one small program at a time.',
  language: 'ru',
  email: 'ada@example.com',
  targetAudience: 'Analysts who know some Python and want faster tools.',
  learningOutcomes: 'Read and write idiomatic Rust\nBuild and test a CLI tool',
  estimatedSections: 4,
  estimatedLessons: 12,
  lessonDuration: 25,
  formats: ['video', 'exercises'],
  writingStyle: 'Conversational',
  contentStrategy: 'Project-based',
};

test('submitting invalid data shows the errors by their fields and creates nothing', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'ab');
  await page.fill('#email', 'not-an-email');
  await page.fill('#language', 'english!!');
  await page.click('#submit');

  await fieldError(page, 'topic').waitFor();
  assert.match(await fieldError(page, 'topic').textContent(), /at least 3 characters/);
  assert.match(await fieldError(page, 'email').textContent(), /valid email/);
  assert.match(await fieldError(page, 'language').textContent(), /language tag/);
  assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
  assert.match(await page.textContent('#notice'), /3 highlighted fields/);
  await screenshot(page, '07-validation-errors');
  assert.equal(await service.count('courses'), 0);
  // Submit saved what the form held first.
  assert.deepEqual((await service.draft(await draftId(page))).formData, { topic: 'ab', email: 'not-an-email', language: 'english!!' });

  // Editing a field clears its error.
  await page.fill('#email', 'ada@example.com');
  await fieldError(page, 'email').waitFor({ state: 'detached' });
  assert.ok(await fieldError(page, 'topic').isVisible());
  await page.close();
});

test('a value refused while drafting is shown by its field; the other fields are saved, and the status says which was not', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'Numbers');
  await page.fill('#estimatedLessons', '500');
  // Not the red "Not saved": the topic is saved, and the pill names the one that is not.
  await saveState(page, 'invalid');
  assert.equal(await page.textContent('#save-status .label'), 'Saved, except Lessons');
  assert.match(await fieldError(page, 'estimatedLessons').textContent(), /between 1 and 100/);
  const id = await draftId(page);
  assert.deepEqual((await service.draft(id)).formData, { topic: 'Numbers' });

  // Submit shows every field's error at once: the refused one and the strict
  // check of the others (an email that is no email), and creates nothing.
  await page.fill('#email', 'not-an-email');
  await page.click('#submit');
  await fieldError(page, 'email').waitFor();
  assert.match(await fieldError(page, 'email').textContent(), /valid email/);
  assert.match(await fieldError(page, 'estimatedLessons').textContent(), /between 1 and 100/);
  assert.match(await page.textContent('#notice'), /2 highlighted fields/);
  assert.equal(await service.count('courses'), 0);
  await page.fill('#email', '');

  await page.fill('#estimatedLessons', '50');
  await saveState(page, 'saved');
  assert.equal(await fieldError(page, 'estimatedLessons').count(), 0);
  assert.deepEqual((await service.draft(id)).formData, { topic: 'Numbers', estimatedLessons: 50 });
  await page.close();
});

test('submit without an upload creates exactly one course row with the final data', async () => {
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');

  await fillForm(page, COURSE);
  await page.click('h1'); // leave the field: no focus ring in the screenshots
  await saveState(page, 'saved');
  const id = await draftId(page); // opened by the first input

  // The last edit is still in the debounce window: submit must save it first.
  await page.fill('#estimatedLessons', '10');
  await page.click('#submit');
  await page.locator('#success').waitFor();
  await saveState(page, 'submitted');
  const slug = await page.textContent('#course-slug');
  assert.match(slug, /^osnovy-rust-[0-9a-f]{8}$/);
  await screenshot(page, '08-submitted');

  assert.equal(await service.count('courses'), 1);
  const [status, title, dbSlug, by, form] = (await service.sql(
    `SELECT status, title, slug, materialized_by, form_data FROM courses WHERE draft_session_id = '${id}'`,
  )).split('|');
  assert.deepEqual([status, title, dbSlug, by], ['submitted', 'Основы Rust', slug, 'submit']);
  assert.deepEqual(JSON.parse(form), { ...COURSE, estimatedLessons: 10 });

  // A reload shows the submitted course, and still no second row.
  await page.reload();
  await page.locator('#success').waitFor();
  assert.equal(await page.textContent('#course-slug'), slug);
  await waitFor(async () => (await service.draft(id)).status === 'submitted', { what: 'the submitted draft' });
  assert.equal(await service.count('courses'), 1);

  // "Start another course" starts afresh in the same tab: an empty form, no draft
  // of the old one kept (the next one opens on the first input).
  await page.click('#new-course');
  await saveState(page, 'idle');
  assert.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem('draftd.draft') || '{}').id ?? null), null);
  assert.equal((await page.getAttribute('body', 'data-draft-id')) ?? '', '', 'no draft named on the page');
  assert.equal(await page.inputValue('#topic'), '');
  await page.fill('#topic', 'The next course');
  await saveState(page, 'saved');
  const next = await draftId(page);
  assert.notEqual(next, id);
  assert.deepEqual((await service.draft(next)).formData, { topic: 'The next course' });
  assert.equal(await service.count('courses'), 1);
  await page.close();
});
