// The page's save cadence: a person typing for half a minute, at a keystroke
// every 150-250 ms with pauses, on the page's own clock (Playwright's fake
// timers), counting the autosaves the page sends. docs/capacity.md sizes a
// deployment from the saves per typist-minute measured here, written to
// e2e/artifacts/save-cadence.json.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, suite, draftId, saveState, waitFor, test } from '../lib/harness.js';

let service, chrome;
suite('cadence', {}, (s, c) => ([service, chrome] = [s, c]));

// The page's timers (web/draft-client.js): a save 3 s after the last
// keystroke, and at most 5 s after the first unsaved one.
const DEBOUNCE_MS = 3000;
const MAX_WAIT_MS = 5000;

/**
 * What the person does: typing bursts (seconds of keystrokes) and pauses
 * between them, one shorter than the debounce (no save) and one longer.
 */
const SCRIPT = [
  { type: 8_000 },
  { pause: 1_500 },
  { type: 6_000 },
  { pause: 4_000 },
  { type: 10_000 },
];

/** A keystroke gap of 150-250 ms, the same sequence every run. */
function gaps() {
  let seed = 7;
  return () => {
    seed = (seed * 48271) % 2147483647;
    return 150 + (seed % 101);
  };
}

/**
 * Records, in the page, when (on its clock) each write to a draft leaves
 * (create: POST, autosave: PATCH) and how many are in flight.
 */
function recordWrites() {
  const real = window.fetch;
  window.__writes = [];
  window.__inflight = 0;
  window.fetch = function (input, init = {}) {
    const method = String(init.method || 'GET').toUpperCase();
    const { pathname } = new URL(String(input instanceof Request ? input.url : input), location.href);
    if (!/^\/api\/v1\/drafts(\/[^/]+)?$/.test(pathname) || !['POST', 'PATCH'].includes(method)) {
      return real.call(this, input, init);
    }
    window.__writes.push({ method, at: Date.now() });
    window.__inflight += 1;
    return real.call(this, input, init).finally(() => {
      window.__inflight -= 1;
    });
  };
}

test('steady typing saves at most once per 3 s and every keystroke within 5 s; the cadence is recorded', async () => {
  const page = await chrome.page();
  await page.clock.install();
  await page.addInitScript(recordWrites);
  await page.goto(service.baseUrl);
  await saveState(page, 'idle');
  // From here on the page's time moves only when the test moves it.
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
  await page.focus('#description');

  const next = gaps();
  const keystrokes = []; // page time of each keystroke
  let now = await page.evaluate(() => Date.now());
  let typed = '';
  /** Moves the page's clock on by `ms`; a write that goes out meanwhile is answered before time moves again, as a quick server would. */
  const advance = async (ms) => {
    await page.clock.runFor(ms);
    now += ms;
    await waitFor(() => page.evaluate(() => window.__inflight === 0), { interval: 5, what: 'the writes in flight' });
  };
  for (const step of SCRIPT) {
    if (step.pause) {
      await advance(step.pause);
      continue;
    }
    for (let spent = 0; spent < step.type; ) {
      const ch = 'abcdefghijklmnopqrstuvwxyz '[keystrokes.length % 27];
      await page.keyboard.type(ch);
      typed += ch;
      keystrokes.push(now);
      const gap = next();
      await advance(gap);
      spent += gap;
    }
  }
  const lastKeystroke = keystrokes.at(-1);
  await advance(DEBOUNCE_MS + 500);
  await saveState(page, 'saved');

  const writes = await page.evaluate(() => window.__writes);
  const saves = writes.filter((w) => w.method === 'PATCH').map((w) => w.at);
  const id = await draftId(page);
  const draft = await service.draft(id);
  // The last keystroke is on the server, and it holds one version per write the page sent.
  assert.equal(draft.formData.description, typed);
  assert.equal(writes.filter((w) => w.method === 'POST').length, 1, 'one create');
  assert.equal(draft.version, 1 + saves.length, 'the server saw every PATCH the page counted');

  const apart = saves.slice(1).map((at, i) => at - saves[i]);
  assert.ok(Math.min(...apart) >= DEBOUNCE_MS, `saves ${apart.join(', ')} ms apart`);
  // Every keystroke left within the maximum wait (the create carries the first ones).
  const sent = [writes[0].at, ...saves];
  const waits = keystrokes.map((k) => sent.find((at) => at >= k) - k);
  assert.ok(Math.max(...waits) <= MAX_WAIT_MS, `a keystroke waited ${Math.max(...waits)} ms`);
  // The last save holds the last keystroke: the debounce's, or the maximum wait's if that came first.
  const lastWait = saves.at(-1) - lastKeystroke;
  assert.ok(lastWait >= 0 && lastWait <= DEBOUNCE_MS, `the last keystroke saved ${lastWait} ms after it`);

  const minutes = (saves.at(-1) - keystrokes[0]) / 60_000;
  const typingMinutes = SCRIPT.reduce((sum, s) => sum + (s.type ?? 0), 0) / 60_000;
  const cadence = {
    test: 'e2e/tests/cadence.test.js',
    keystrokes: keystrokes.length,
    saves: saves.length,
    creates: 1,
    sessionSeconds: minutes * 60,
    typingSeconds: typingMinutes * 60,
    savesApartMs: apart,
    savesPerMinute: saves.length / minutes,
    savesPerTypingMinute: saves.length / typingMinutes,
  };
  console.log(`save cadence: ${JSON.stringify(cadence)}`);
  writeFileSync(path.join(ARTIFACTS, 'save-cadence.json'), `${JSON.stringify(cadence, null, 2)}\n`);
  await page.close();
});
