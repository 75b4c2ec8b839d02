// Redis is down as the form opens: the page works as ever, its draft kept in a
// course row in Postgres (degraded mode), through autosave, reload and submit.
import assert from 'node:assert/strict';
import { suite, openForm, draftId, saveState, test } from '../lib/harness.js';

let service, chrome;
suite('degraded', { redisDown: true }, (s, c) => ([service, chrome] = [s, c]));

test('with Redis down the form opens, autosaves and submits, its draft kept in Postgres', async () => {
  const page = await openForm(service, chrome);
  await saveState(page, 'idle');

  // The first input opens the draft (its Idempotency-Key is not kept without Redis).
  await page.fill('#topic', 'Written during an outage');
  await saveState(page, 'saved');
  const id = await draftId(page);
  assert.equal((await service.draft(id)).store, 'postgres');
  await page.fill('#lessonDuration', '30');
  await saveState(page, 'saved');
  const [by, version, form] = (await service.sql(
    `SELECT materialized_by, draft_version, form_data FROM courses WHERE draft_session_id = '${id}'`,
  )).split('|');
  assert.equal(by, 'degraded');
  assert.ok(Number(version) > 1, `autosaves counted in the row: version ${version}`);
  assert.deepEqual(JSON.parse(form), { topic: 'Written during an outage', lessonDuration: 30 });

  // A reload restores the draft from Postgres.
  await page.reload();
  await saveState(page, 'saved');
  assert.equal(await draftId(page), id);
  assert.equal(await page.inputValue('#topic'), 'Written during an outage');

  await page.click('#submit');
  await page.locator('#success').waitFor();
  await saveState(page, 'submitted');
  assert.equal(await service.count('courses'), 1);
  assert.equal(await service.sql(`SELECT status FROM courses WHERE draft_session_id = '${id}'`), 'submitted');
  await page.close();
});
