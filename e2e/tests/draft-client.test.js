// web/draft-client.js on its own, in Node, against a fake service: the recovery
// paths that are slow or awkward to provoke in a browser (backoff timing,
// token refresh), checked in milliseconds. The client opens its draft on the
// first edit (a visit that types nothing writes nothing), so each test types
// before it has a draft to break.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DraftClient, OfflineError } from '../../web/draft-client.js';

/**
 * An in-memory draftd: one user's drafts, and a queue of failures to serve first.
 * As the SPEC's: a create repeated with the same Idempotency-Key gets the same
 * draft, and If-Match may list several versions.
 */
function fakeService() {
  const drafts = new Map();
  const byKey = new Map();
  const calls = [];
  const failures = []; // (method, path) => Response | 'network' | undefined
  let next = 1;
  const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
  async function fetch(url, init) {
    const method = init.method;
    const path = new URL(url, 'http://x').pathname;
    calls.push({ method, path, at: Date.now(), headers: init.headers, body: init.body && JSON.parse(init.body) });
    const failure = failures.length && failures[0](method, path, init);
    if (failure) {
      failures.shift();
      if (failure === 'network') throw new TypeError('fetch failed');
      return failure;
    }
    if (method === 'POST' && path === '/api/v1/drafts') {
      const key = init.headers['Idempotency-Key'];
      if (key && byKey.has(key)) return json(200, byKey.get(key));
      const draft = { id: `d${next++}`, version: 1, status: 'open', courseId: null, formData: JSON.parse(init.body).formData };
      drafts.set(draft.id, draft);
      if (key) byKey.set(key, structuredClone(draft));
      return json(201, draft);
    }
    const draft = drafts.get(path.split('/')[4]);
    if (!draft) return json(404, { status: 404, title: 'Not found' });
    if (method === 'GET') return json(200, draft);
    if (method === 'PATCH') {
      const tags = (init.headers['If-Match'] || '').split(',').map((t) => t.trim());
      if (!tags.includes(`"${draft.version}"`)) return json(412, { status: 412, currentVersion: draft.version });
      for (const [k, v] of Object.entries(JSON.parse(init.body).formData)) v === null ? delete draft.formData[k] : (draft.formData[k] = v);
      draft.version++;
      return json(200, draft);
    }
    return json(405, {});
  }
  return { drafts, calls, failures, fetch, json };
}

function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)), removeItem: (k) => items.delete(k) };
}

function client(service, options = {}) {
  return new DraftClient({
    getToken: async () => 'token',
    fetch: service.fetch,
    storage: memoryStorage(),
    debounceMs: 20,
    retryBaseMs: 20,
    retryMaxMs: 80,
    ...options,
  });
}

/** Resolves once the client's state is `state`. */
function reaches(c, state, timeout = 2000) {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state is ${c.state}, not ${state}`)), timeout);
    c.addEventListener('state', function on() {
      if (c.state !== state) return;
      clearTimeout(timer);
      c.removeEventListener('state', on);
      resolve();
    });
  });
}

test('offline: retries with exponential backoff up to the maximum, then saves everything typed', async () => {
  const service = fakeService();
  const c = client(service);
  await c.start();
  // The first edit opens the draft: its create is what is retried.
  for (let i = 0; i < 5; i++) service.failures.push((m) => m !== 'GET' && 'network');
  c.set('topic', 'Typed offline');
  await reaches(c, 'offline');
  c.set('description', 'More, still offline');
  await reaches(c, 'saved');

  const patches = service.calls.filter((call) => call.method === 'POST' || call.method === 'PATCH');
  assert.equal(patches.length, 6);
  // Every retry of the create is the same create: one Idempotency-Key, one draft.
  const keys = new Set(patches.map((p) => p.headers['Idempotency-Key']));
  assert.equal(keys.size, 1);
  assert.ok([...keys][0]);
  assert.equal(service.drafts.size, 1);
  const gaps = patches.slice(1).map((p, i) => p.at - patches[i].at);
  // 20, 40, 80, 80, 80 ms, each up to 20 % shorter (jitter); timers may run late, never early.
  [20, 40, 80, 80, 80].forEach((want, i) => assert.ok(gaps[i] >= want * 0.8 - 2, `gap ${i}: ${gaps[i]} ms, want ~${want}`));
  assert.deepEqual(service.drafts.get(c.draft.id).formData, { topic: 'Typed offline', description: 'More, still offline' });
});

test('a 503 counts as offline; submit while offline fails with OfflineError and keeps the edits', async () => {
  const service = fakeService();
  const c = client(service, { retryBaseMs: 10_000 });
  await c.start();
  service.failures.push((m) => m !== 'GET' && service.json(503, { status: 503 }));
  c.set('topic', 'Kept');
  await assert.rejects(c.submit(), OfflineError);
  assert.equal(c.state, 'offline');
  assert.deepEqual(c.formData, { topic: 'Kept' });
  c.retryNow();
  await reaches(c, 'saved');
  assert.deepEqual(service.drafts.get(c.draft.id).formData, { topic: 'Kept' });
});

test('a 401 fetches a fresh token once and repeats the request', async () => {
  const service = fakeService();
  const asked = [];
  const c = client(service, { getToken: async ({ refresh }) => (asked.push(refresh), refresh ? 'fresh' : 'stale') });
  service.failures.push((m, p, init) => init.headers.Authorization === 'Bearer stale' && service.json(401, { status: 401 }));
  await c.start();
  assert.equal(service.calls.length, 0, 'start() sends nothing: the draft opens on the first edit');
  asked.length = 0;
  c.set('topic', 'After a refresh');
  await reaches(c, 'saved');
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(service.calls.map((call) => call.headers.Authorization), ['Bearer stale', 'Bearer fresh']);
  assert.ok(c.draft.id);
});

test('a 422 on autosave holds back the refused field and saves the others', async () => {
  const service = fakeService();
  const c = client(service);
  await c.start();
  c.set('topic', 'Fine');
  await reaches(c, 'saved');
  service.failures.push((m) => m === 'PATCH' && service.json(422, { status: 422, errors: { estimatedLessons: ['must be between 1 and 100'] } }));
  c.set('description', 'Also fine');
  c.set('estimatedLessons', 500);
  // Not an error of the whole: the other fields are saved, the refused one is named.
  await reaches(c, 'invalid');
  assert.equal(await c.flush(), false, 'the refused field is not stored'); // the others' patch done
  assert.equal(c.state, 'invalid');
  assert.deepEqual(c.errors, { estimatedLessons: ['must be between 1 and 100'] });
  assert.deepEqual(service.drafts.get(c.draft.id).formData, { topic: 'Fine', description: 'Also fine' });
  assert.equal(c.formData.estimatedLessons, 500, 'the form still shows what the user typed');

  c.set('estimatedLessons', 50);
  await reaches(c, 'saved');
  assert.deepEqual(c.errors, {});
  assert.deepEqual(service.drafts.get(c.draft.id).formData, { topic: 'Fine', description: 'Also fine', estimatedLessons: 50 });
});

test('a 412 refetches: other fields come from the service; a field changed on both sides waits for a choice', async () => {
  const service = fakeService();
  const c = client(service);
  await c.start();
  c.set('topic', 'First');
  await reaches(c, 'saved');
  const draft = service.drafts.get(c.draft.id);
  Object.assign(draft, { version: 2, formData: { topic: 'Theirs', description: 'Theirs too' } });
  let refetched = false;
  c.addEventListener('data', () => (refetched = true));
  c.set('topic', 'Mine');
  await reaches(c, 'conflict');
  assert.ok(refetched);
  assert.deepEqual(c.formData, { topic: 'Mine', description: 'Theirs too' });
  // Never saved over the other version silently: both are kept until the person chooses.
  assert.deepEqual(c.conflicts, { topic: { mine: 'Mine', theirs: 'Theirs' } });
  assert.equal(await c.flush(), false, 'nothing is saved over it');
  assert.equal(c.state, 'conflict');
  assert.deepEqual(draft.formData, { topic: 'Theirs', description: 'Theirs too' });
  c.resolve('topic', 'mine');
  await reaches(c, 'saved');
  assert.deepEqual(draft.formData, { topic: 'Mine', description: 'Theirs too' });
  assert.equal(draft.version, 3, 'saved over version 2, the one holding theirs');
});

test('a 404 opens a new draft carrying the whole form', async () => {
  const service = fakeService();
  const c = client(service);
  await c.start();
  c.set('topic', 'Old');
  await reaches(c, 'saved');
  const old = c.draft.id;
  service.drafts.delete(old); // expired
  c.set('description', 'New');
  await reaches(c, 'saved');
  assert.notEqual(c.draft.id, old);
  assert.deepEqual(service.drafts.get(c.draft.id).formData, { topic: 'Old', description: 'New' });
});

test('after a switch, a late event of the draft left behind leaves the resumed one alone', async () => {
  const service = fakeService();
  const elsewhere = client(service);
  await elsewhere.start();
  elsewhere.set('topic', 'Begun on another device');
  await reaches(elsewhere, 'saved');
  const resumed = elsewhere.draft.id;

  const c = client(service);
  await c.start();
  c.set('topic', 'A draft of its own');
  await reaches(c, 'saved');
  const left = c.draft.id;
  await c.switchTo(resumed);
  const afterSwitch = service.calls.length;
  // The stream of the draft it left tells of its discarding only now.
  await c.applyRemote('discarded', {}, left);
  c.set('description', 'Typed after the switch');
  await reaches(c, 'saved');

  assert.equal(c.draft.id, resumed);
  assert.deepEqual(service.calls.slice(afterSwitch).filter((call) => call.method === 'POST'), []);
  assert.deepEqual(service.drafts.get(resumed).formData, { topic: 'Begun on another device', description: 'Typed after the switch' });
});

test('a reload restores the draft and the edits that were not saved yet', async () => {
  const service = fakeService();
  const storage = memoryStorage();
  const first = client(service, { storage, debounceMs: 60_000, maxWaitMs: 60_000 });
  await first.start();
  first.set('topic', 'Saved');
  assert.ok(await first.flush());
  first.set('description', 'Unsaved when the tab reloaded');

  const second = client(service, { storage });
  await second.start();
  assert.equal(second.draft.id, first.draft.id);
  assert.deepEqual(second.formData, { topic: 'Saved', description: 'Unsaved when the tab reloaded' });
  await reaches(second, 'saved');
  assert.deepEqual(service.drafts.get(second.draft.id).formData, { topic: 'Saved', description: 'Unsaved when the tab reloaded' });
  first.reset(); // its debounce timer would keep the test process alive
});

test('a create whose answer was lost is sent again on reload with the same Idempotency-Key: one draft', async () => {
  const service = fakeService();
  const storage = memoryStorage();
  const first = client(service, { storage, retryBaseMs: 60_000 });
  await first.start();
  // The create arrives, its answer does not (the tab closed, the network dropped).
  let created = null;
  service.failures.push((m, p, init) => {
    if (m !== 'POST') return undefined;
    created = init;
    return 'network';
  });
  first.set('topic', 'Typed just before the tab closed');
  await reaches(first, 'offline');
  // The tab reloads: its session storage stays (reset() stops its retry timer).
  const kept = storage.getItem('draftd.draft');
  first.reset();
  storage.setItem('draftd.draft', kept);
  await service.fetch('/api/v1/drafts', { ...created, method: 'POST' }); // the create the service did get

  const second = client(service, { storage });
  await second.start();
  await reaches(second, 'saved');
  assert.equal(service.drafts.size, 1, 'the replayed create made no second draft');
  assert.deepEqual(service.drafts.get(second.draft.id).formData, { topic: 'Typed just before the tab closed' });
});
