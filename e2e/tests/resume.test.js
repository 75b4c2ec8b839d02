// Resume on any device: a draft written on one device (a browser profile) is
// offered on another with no storage of its own, can be continued there, and is
// still listed when the user starts a new one instead; the trash is offered too.
import assert from 'node:assert/strict';
import { suite, browser, openForm, draftId, saveState, screenshot, waitFor, test } from '../lib/harness.js';

let service, deviceA;
suite('resume', {}, (s, c) => ([service, deviceA] = [s, c]));

const topic = `Rust for analysts ${Date.now().toString(36)}`;
let written;

/** A second device: a browser profile with no storage of the first's. */
async function onAnotherDevice(fn) {
  const device = await browser();
  try {
    return await fn(await openForm(service, device));
  } finally {
    await device.close();
  }
}

test('a draft written on one device is offered on another and continued there', async () => {
  const a = await openForm(service, deviceA);
  await a.fill('#topic', topic);
  await a.fill('#description', 'Written on the first device');
  await saveState(a, 'saved');
  written = await draftId(a);
  const listed = async () => (await service.api('GET', '/api/v1/drafts?limit=100')).body.items.map((d) => d.id).sort();
  const before = await listed();

  await onAnotherDevice(async (b) => {
    const offer = b.locator('#resume-drafts li', { hasText: topic });
    await offer.waitFor();
    assert.match(await offer.textContent(), /Saved (just now|\d+ seconds? ago)/);
    assert.match(await offer.textContent(), /Written on the first device/);
    await screenshot(b, 'resume-offer');
    // A visit writes nothing: the second device has no draft of its own to leave behind.
    assert.equal(await b.getAttribute('body', 'data-draft-id'), '');

    await offer.getByRole('button', { name: `Continue “${topic}”`, exact: false }).click();
    await waitFor(async () => (await draftId(b)) === written, { what: 'the second device on the first draft' });
    await b.locator('#resume').waitFor({ state: 'hidden' });
    assert.equal(await b.inputValue('#topic'), topic);
    assert.equal(await b.inputValue('#description'), 'Written on the first device');
    assert.deepEqual(await listed(), before, 'continuing made no draft and discarded none');

    // Both work on one draft: what the second device saves, the first shows.
    await b.fill('#language', 'ru');
    await saveState(b, 'saved');
    assert.equal((await service.draft(written)).formData.language, 'ru');
  });
  await a.reload();
  await waitFor(async () => (await a.inputValue('#language')) === 'ru', { what: 'the first device showing the save' });
  assert.equal(await draftId(a), written);
  assert.equal(await a.locator('#resume').isHidden(), true, 'a reload is not offered its own draft back');
});

test('starting a new course leaves the old draft listed', async () => {
  await onAnotherDevice(async (c) => {
    await c.locator('#resume-drafts li', { hasText: topic }).waitFor();
    await c.getByRole('button', { name: 'Start a new course' }).click();
    await c.locator('#resume').waitFor({ state: 'hidden' });
    assert.equal(await c.evaluate(() => document.activeElement.id), 'topic');
    await c.fill('#topic', 'Another course entirely');
    await saveState(c, 'saved');
    const fresh = await draftId(c);
    const { body } = await service.api('GET', '/api/v1/drafts?limit=100');
    const ids = body.items.map((d) => d.id);
    assert.ok(ids.includes(written), 'the old draft is still listed');
    assert.ok(ids.includes(fresh));
  });
});

test('a course in the trash is offered and restored', async () => {
  const { body: draft } = await service.api('POST', '/api/v1/drafts', { json: { formData: { topic: 'Deleted by mistake' } } });
  const { body: submitted } = await service.api('POST', `/api/v1/drafts/${draft.id}/submit`);
  assert.equal((await service.api('DELETE', `/api/v1/courses/${submitted.courseId}`)).status, 200);

  await onAnotherDevice(async (d) => {
    const offer = d.locator('#resume-trash li', { hasText: 'Deleted by mistake' });
    await offer.waitFor();
    assert.match(await offer.textContent(), /restorable until/);
    await offer.getByRole('button', { name: 'Restore “Deleted by mistake”' }).click();
    // In place: the row says so (no stale "Deleted just now"), and focus stays in it.
    await waitFor(async () => /Restored just now/.test(await offer.textContent()), { what: 'the row updated' });
    assert.doesNotMatch(await offer.locator('.resume-meta').textContent(), /Deleted/);
    assert.equal(await d.evaluate(() => document.activeElement.closest('li')?.textContent.includes('Deleted by mistake')), true);
    await waitFor(async () => /is back in your courses/.test(await d.textContent('#resume-status')), { what: 'the restore announced' });
  });
  const { body: course } = await service.api('GET', `/api/v1/courses/${submitted.courseId}`);
  assert.equal(course.trashedAt, null);
});
