// Accessibility and layout stability of the page, state by state: axe-core finds
// no violation in any state (empty, typing, saved, validation errors, the resume
// offer with the trash, a conflict, the cap offer, the success view, its course
// in the trash); every control shows a focus ring of at least 3:1 against white;
// hints are tied to their inputs; "Saving…" shows only while a request is in
// flight; the resume offer arriving after load shifts nothing (CLS at most 0.05).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite, openForm, draftId, saveState, waitFor, test, ROOT } from '../lib/harness.js';

let service, chrome;
suite('a11y', {
  env: { DRAFTD_MAX_DRAFTS_PER_USER: '50', DRAFTD_WRITE_RATE_LIMIT: '100000', DRAFTD_WRITE_RATE_WINDOW_SECS: '1' },
}, (s, c) => ([service, chrome] = [s, c]));

const AXE = readFileSync(path.join(ROOT, 'e2e', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * axe-core in the page. The page's Content-Security-Policy refuses inline
 * scripts, which is what addScriptTag adds; evaluate goes through the
 * debugger, which the policy does not govern.
 */
async function assertNoViolations(page, state) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
  assert.deepEqual(violations, [], `axe, ${state}`);
}

/** Tabs through the whole page; the controls whose focus ring is missing or under 3:1 on white. */
async function weakFocusRings(page, atLeast = 10) {
  await page.evaluate(() => document.activeElement?.blur());
  const seen = new Set();
  const weak = [];
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      // The file input is visually hidden: its zone carries the ring.
      const shown = el.id === 'file-input' ? el.closest('.dropzone') : el;
      const style = getComputedStyle(shown);
      const [r, g, b] = style.outlineColor.match(/\d+(\.\d+)?/g).map(Number);
      const lum = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      const l = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b);
      const name = el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30) || el.outerHTML.slice(0, 60);
      return { name, width: parseFloat(style.outlineWidth), style: style.outlineStyle, contrast: 1.05 / (l + 0.05) };
    });
    if (!ring || seen.has(ring.name)) break;
    seen.add(ring.name);
    if (ring.style === 'none' || ring.width < 2 || ring.contrast < 3) weak.push(ring);
  }
  assert.ok(seen.size >= atLeast, `tabbed through ${seen.size} controls`);
  return weak;
}

/** Counts moments "Saving…" shows with no request in flight (checked every 50 ms; 150 ms in a row is one). */
function watchSaving(page) {
  return page.addInitScript(() => {
    const watch = (window.__saving = { inflight: 0, idleSaving: 0, streak: 0 });
    const fetch = window.fetch;
    window.fetch = function (input, init) {
      const url = String(input?.url ?? input);
      const counted = url.includes('/api/v1/drafts') && !url.endsWith('/events');
      const answer = fetch.call(this, input, init);
      if (counted) {
        watch.inflight++;
        const done = () => watch.inflight--;
        answer.then(done, done);
      }
      return answer;
    };
    setInterval(() => {
      const saying = document.querySelector('#save-status .label')?.textContent === 'Saving…';
      watch.streak = saying && watch.inflight === 0 ? watch.streak + 1 : 0;
      if (watch.streak === 3) watch.idleSaving++;
    }, 50);
  });
}

/** A draft of the demo user holding `topic`, made through the API. */
const draftWith = async (formData) => (await service.api('POST', '/api/v1/drafts', { json: { formData } })).body;

test('axe finds no violation in any state of the page; focus rings, hints, and "Saving…" only in flight', async () => {
  // Empty form.
  const a = await chrome.page();
  await watchSaving(a);
  await a.goto(service.baseUrl);
  await saveState(a, 'idle');
  assert.equal(await a.getAttribute('#language', 'placeholder'), null, 'no value-like placeholder');
  for (const [input, hint] of [['topic', /3 to 200/], ['language', /e\.g\. en, fr/], ['estimatedLessons', /1 to 100/]]) {
    const ids = (await a.getAttribute(`#${input}`, 'aria-describedby')).split(' ');
    assert.match(await a.textContent(`#${ids.at(-1)}`), hint, `${input}'s hint is tied to it`);
  }
  await assertNoViolations(a, 'empty form');
  assert.deepEqual(await weakFocusRings(a), [], 'focus rings of the form');

  // Typing, then saved; "Saving…" never showed while nothing was in flight.
  await a.fill('#topic', 'Accessible course');
  await a.fill('#description', 'Typed to see the states of the save');
  await saveState(a, 'pending');
  await assertNoViolations(a, 'typing, not saved yet');
  await saveState(a, 'saved');
  await assertNoViolations(a, 'saved');
  assert.equal(await a.evaluate(() => window.__saving.idleSaving), 0, '"Saving…" with no request in flight');
  const id = await draftId(a);

  // Validation errors shown (submit's strict check).
  await a.fill('#email', 'not-an-email');
  await a.click('#submit');
  await a.locator('#email-error').waitFor();
  assert.deepEqual((await a.getAttribute('#email', 'aria-describedby')).split(' ')[0], 'email-error');
  await assertNoViolations(a, 'validation errors');
  await a.fill('#email', 'ada@example.com');

  // A conflict: another writer (here the API; tests/live.test.js has two tabs)
  // saves the topic while A is typing in it.
  await waitFor(() => a.evaluate(() => document.body.dataset.live === 'on'), { what: "A's event stream" });
  await a.fill('#topic', 'Accessible course, as A has it');
  const { version } = await service.draft(id);
  await service.api('PATCH', `/api/v1/drafts/${id}`, {
    json: { formData: { topic: 'Accessible course, as another tab has it' } }, headers: { 'If-Match': `"${version}"` },
  });
  await a.locator('#topic-conflict').waitFor();
  await assertNoViolations(a, 'conflict');
  await a.getByRole('button', { name: 'Keep mine' }).click();
  await saveState(a, 'saved');

  // The resume offer with the trash, in a tab of its own (no draft of its own yet).
  const trashed = await draftWith({ topic: 'Deleted, restorable' });
  const { body: course } = await service.api('POST', `/api/v1/drafts/${trashed.id}/submit`);
  await service.api('DELETE', `/api/v1/courses/${course.courseId}`);
  const c = await openForm(service, chrome);
  await c.locator('#resume-trash li').first().waitFor();
  assert.equal(await c.locator('#resume-drafts li', { hasText: 'Accessible course' }).count(), 1);
  await assertNoViolations(c, 'resume offer and trash');
  assert.deepEqual(await weakFocusRings(c), [], 'focus rings with the offer shown');
  await c.getByRole('button', { name: 'Start a new course' }).click();

  // The cap offer: 50 live drafts, one more typed.
  const live = (await service.api('GET', '/api/v1/drafts?limit=100')).body.items.length;
  const fillers = [];
  for (let i = live; i < 50; i++) fillers.push((await draftWith({ topic: `Filler ${i}` })).id);
  await c.fill('#topic', 'One too many');
  await c.locator('#cap').waitFor();
  await assertNoViolations(c, 'cap offer');
  await c.locator('#cap li').first().getByRole('button', { name: /^Discard/ }).click();
  await c.locator('#cap').waitFor({ state: 'hidden' });
  await saveState(c, 'saved');
  for (const filler of fillers) await service.api('DELETE', `/api/v1/drafts/${filler}`);

  // Submitted: the success view.
  await a.click('#submit');
  await a.locator('#success').waitFor();
  await a.locator('#course-files li').first().waitFor();
  await assertNoViolations(a, 'success view');
  assert.deepEqual(await weakFocusRings(a, 3), [], 'focus rings of the success view');
  await a.click('#trash-course');
  await a.locator('#trash-note').waitFor();
  await assertNoViolations(a, 'success view, the course in the trash');
});

test('the resume offer arriving after load shifts nothing: cumulative layout shift at most 0.05', async () => {
  await draftWith({ topic: 'Offered on the next visit', description: 'Something to resume' });
  const page = await chrome.page();
  await page.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await page.goto(service.baseUrl);
  await page.locator('#resume-drafts li').first().waitFor();
  // Two frames: any shift the offer caused has been laid out and reported.
  const cls = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(window.__cls)))));
  console.log(`cumulative layout shift with the resume offer: ${cls.toFixed(3)}`);
  assert.ok(cls <= 0.05, `CLS ${cls.toFixed(3)}`);
});
