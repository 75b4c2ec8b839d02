// Redis is down as the form opens: the page works as ever, its draft kept in a
// course row in Postgres (degraded mode), through autosave, reload and submit.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Service, browser, draftId, saveState, test } from '../lib/harness.js';

let service, chrome;
before(async () => {
  service = await Service.create('degraded', { redisDown: true });
  chrome = await browser();
});
after(async () => {
  await chrome?.close();
  await service?.destroy();
});

test('with Redis down the form opens, autosaves and submits, its draft kept in Postgres', async () => {
  const page = await chrome.page();
  await page.goto(service.baseUrl);
  await saveState(page, 'idle');
  const id = await draftId(page);
  const opened = await service.draft(id);
  assert.equal(opened.store, 'postgres');

  await page.fill('#topic', 'Written during an outage');
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
