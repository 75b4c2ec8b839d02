// Not one typed character is lost, judged on the server: a tab closed right
// after typing, steady typing that never pauses, typing offline then closing,
// a browser killed with SIGKILL and relaunched on its profile, Continue on the
// resume offer right after typing, typing before the page's script has run or
// while a reload reads its draft back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';
import { draftId, suite, openForm, saveState, test, waitFor } from '../lib/harness.js';

let service, chrome;
suite('no-loss', {}, (s, c) => ([service, chrome] = [s, c]));

/** The user's drafts on the server, with their forms. */
async function serverDrafts() {
  const { body } = await service.api('GET', '/api/v1/drafts?include=formData&limit=100');
  return body.items;
}

/** Waits until some draft on the server holds `text` whole in `field`; how many characters it lacks otherwise. */
async function assertOnServer(field, text, timeout = 15_000) {
  let best = '';
  try {
    await waitFor(async () => {
      for (const d of await serverDrafts()) {
        const value = d.formData[field] ?? '';
        if (value.length > best.length && text.startsWith(value)) best = value;
        if (value === text) return true;
      }
      return false;
    }, { timeout, what: `the server holds the ${text.length} characters typed` });
  } catch (err) {
    assert.fail(`${text.length - best.length} of ${text.length} characters lost (${err.message})`);
  }
}

const unique = (label) => `${label} ${Date.now().toString(36)} `;

test('a tab closed 300 ms after the last keystroke loses nothing', async () => {
  const page = await openForm(service, chrome);
  const text = `${unique('Closed quickly')}and every word typed before the close`;
  await page.type('#topic', text, { delay: 15 });
  await page.waitForTimeout(300);
  await page.close({ runBeforeUnload: true });
  await openForm(service, chrome); // a later visit replays what the closed tab journaled
  await assertOnServer('topic', text);
});

test('steady typing that never pauses 3 s is saved while it goes on, and nothing is lost at the close', async () => {
  const page = await openForm(service, chrome);
  const start = unique('Steady');
  await page.click('#description');
  await page.keyboard.type(start, { delay: 150 });
  const deadline = Date.now() + 20_000;
  let typed = start;
  let savedWhileTyping = false;
  while (Date.now() < deadline) {
    await page.keyboard.type('word ', { delay: 150 });
    typed += 'word ';
    if (!savedWhileTyping) savedWhileTyping = (await serverDrafts()).some((d) => (d.formData.description ?? '').startsWith(start));
  }
  assert.ok(savedWhileTyping, 'a save went out while the typing went on');
  await page.close({ runBeforeUnload: true });
  await openForm(service, chrome);
  await assertOnServer('description', typed);
});

test('typed offline, tab closed, back online, reopened: nothing is lost', async () => {
  const page = await openForm(service, chrome);
  await chrome.context.setOffline(true);
  const text = `${unique('Offline')}typed with no network at all`;
  try {
    await page.type('#topic', text, { delay: 15 });
    await page.waitForTimeout(5000);
    // With runBeforeUnload, close() does not wait for the tab to go: the network
    // comes back only once it is gone (its keepalive save failed; the journal has
    // the text), and setOffline does not meet a tab half closed.
    const closed = page.waitForEvent('close');
    await page.close({ runBeforeUnload: true });
    await closed;
  } finally {
    await chrome.context.setOffline(false); // the next tests need the network
  }
  await openForm(service, chrome);
  await assertOnServer('topic', text);
});

test('Continue on the resume offer within 3 s of typing keeps what was typed', async () => {
  // A draft to be offered.
  const { body: other } = await service.api('POST', '/api/v1/drafts', { json: { formData: { topic: unique('Offered draft') } } });
  const page = await openForm(service, chrome);
  const button = page.locator('#resume-drafts button', { hasText: 'Continue' }).first();
  await button.waitFor();
  const text = `${unique('Before Continue')}typed just before switching`;
  await page.type('#topic', text, { delay: 10 });
  await button.click();
  await waitFor(() => page.evaluate(() => document.body.dataset.draftId), { what: 'the switch' });
  await assertOnServer('topic', text);
  await service.api('DELETE', `/api/v1/drafts/${other.id}`);
});

// --- typed while the page is still loading -----------------------------------

/**
 * Loads the page with `load` (a goto or a reload) while the first request for
 * `url` is held, as on a slow network: `type` types into the form once that
 * request is waiting, and only then does its answer arrive.
 */
async function typeWhileHeld(page, url, load, type) {
  let release, reached;
  const held = new Promise((resolve) => (release = resolve));
  const waiting = new Promise((resolve) => (reached = resolve));
  await page.route(url, async (route) => {
    reached();
    await held;
    await route.continue();
  });
  await load();
  await waiting;
  await page.locator('#topic').waitFor();
  await type();
  release();
  await page.unroute(url, { behavior: 'wait' }); // once the held answer has gone on
}

/** Types into the page before its script has run (app.js held). */
function typeBeforeScript(page, load, type) {
  return typeWhileHeld(page, '**/app.js', load, async () => {
    await type();
    assert.equal(await page.getAttribute('#save-status', 'data-state'), 'starting', 'the script has not run yet');
  });
}

test('what is typed before the page\'s script runs (a slow load) is saved', async () => {
  const page = await chrome.page();
  const topic = `${unique('Typed early')}course`;
  await typeBeforeScript(page, () => page.goto(service.baseUrl, { waitUntil: 'commit' }), async () => {
    await page.type('#topic', topic, { delay: 5 });
    await page.check('input[name="formats"][value="quiz"]');
    await page.type('#estimatedLessons', '12');
  });
  await saveState(page, 'saved');
  const id = await draftId(page);
  assert.deepEqual((await service.draft(id)).formData, { topic, formats: ['quiz'], estimatedLessons: 12 });
  await page.close();
});

test('typing into a reloading page before its script runs wins over the restored draft', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'The topic before the reload');
  await page.fill('#description', 'Kept as it was');
  await saveState(page, 'saved');
  const id = await draftId(page);
  const topic = 'The topic typed while the page came back';
  const reload = () => typeBeforeScript(page, () => page.reload({ waitUntil: 'commit' }), async () => {
    await page.fill('#topic', topic);
    await page.type('#language', 'de'); // the field the person is in when the script arrives
  });
  // The person leaves that field while the page reads its draft back.
  await typeWhileHeld(page, `**/api/v1/drafts/${id}`, reload, () => page.press('#language', 'Tab'));
  const expected = { topic, description: 'Kept as it was', language: 'de' };
  // The restored draft shows "Saved" before the early typing goes out: the server says when it is in.
  await waitFor(async () => isDeepStrictEqual((await service.draft(id)).formData, expected), { what: 'the typing on the server' });
  assert.equal(await draftId(page), id, 'the same draft, restored');
  assert.equal(await page.inputValue('#topic'), topic, 'the restored draft did not overwrite the typing');
  await page.close();
});

test('typing while a reload reads its draft back is saved over it', async () => {
  const page = await openForm(service, chrome);
  await page.fill('#topic', 'The topic before the reload');
  await saveState(page, 'saved');
  const id = await draftId(page);
  const topic = 'The topic typed while the draft was read';
  await typeWhileHeld(page, `**/api/v1/drafts/${id}`, () => page.reload(), () => page.fill('#topic', topic));
  await waitFor(async () => (await service.draft(id)).formData.topic === topic, { what: 'the typing on the server' });
  assert.equal(await page.inputValue('#topic'), topic);
  await page.close();
});

// --- a browser killed with SIGKILL ------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Chromium on `profile`, as its own process: {child, browser, context}. */
async function spawnChromium(profile) {
  const port = await freePort();
  const child = spawn(process.env.DRAFTD_E2E_CHROMIUM || '/usr/bin/chromium', [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank',
  ], { stdio: 'ignore', detached: true }); // a process group of its own: killed whole
  const browser = await waitFor(
    () => chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => null),
    { timeout: 20_000, what: 'Chromium answering on its debugging port' },
  );
  return { child, browser, context: browser.contexts()[0] };
}

/**
 * SIGKILL to the browser and every process of it (renderers, GPU, network), as
 * a crash or the OOM killer: the profile is then no one's, for the relaunch and
 * for its removal (a renderer outliving its browser still writes into it).
 */
async function killChromium({ child }) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await exited;
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      process.kill(-child.pid, 0); // throws once no process of the group is left
    } catch {
      return;
    }
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a browser killed with SIGKILL 0.7 s after typing, relaunched on its profile, loses nothing', async () => {
  // In the script's run dir when there is one: its trap removes what is left.
  const profile = mkdtempSync(path.join(process.env.DRAFTD_E2E_RUN_DIR || os.tmpdir(), 'draftd-e2e-killed-'));
  let run;
  try {
    run = await spawnChromium(profile);
    const page = await run.context.newPage();
    await page.goto(service.baseUrl);
    await saveState(page, 'idle');
    const text = `${unique('Killed')}typed just before the crash`;
    await page.type('#topic', text, { delay: 15 });
    await page.waitForTimeout(700);
    await killChromium(run);

    run = await spawnChromium(profile);
    const again = await run.context.newPage();
    await again.goto(service.baseUrl);
    await assertOnServer('topic', text);
  } finally {
    if (run && run.child.exitCode === null && !run.child.signalCode) await killChromium(run);
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
});
