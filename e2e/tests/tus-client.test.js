// web/tus-upload.js on its own, in Node, against the real service: the ends of
// an upload that a browser makes awkward to provoke.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Service } from '../lib/harness.js';
import { TusUpload } from '../../web/tus-upload.js';

let service;
before(async () => {
  service = await Service.create('tus-client');
  // The client resolves the Location of a creation against the page's address.
  globalThis.location = new URL(`${service.baseUrl}/`);
});
after(async () => {
  delete globalThis.location;
  await service?.destroy();
});

function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)), removeItem: (k) => items.delete(k) };
}

/**
 * A new draft and an upload of `bytes` to it as plan.md, each of whose
 * requests goes through `intercept(url, init)`; `calls` lists their methods.
 */
async function planUpload(bytes, intercept) {
  const { body: draft } = await service.api('POST', '/api/v1/drafts', { json: { formData: {} } });
  const file = new File([bytes], 'plan.md', { type: 'text/markdown' });
  const calls = [];
  const upload = new TusUpload(file, {
    endpoint: `/api/v1/drafts/${draft.id}/uploads`,
    getToken: () => service.token(),
    storage: memoryStorage(),
    retryBaseMs: 10,
    fetch(url, init) {
      calls.push(init.method);
      return intercept(new URL(url, service.baseUrl), init);
    },
  });
  return { draft, upload, calls };
}

test('an upload whose last answer was lost ends at the HEAD that finds it whole', async () => {
  let lost = false;
  const { draft, upload, calls } = await planUpload(Buffer.from('# Week 1\nOwnership and borrowing\n'), async (url, init) => {
    const res = await fetch(url, init);
    // The last PATCH reaches the server, and its answer is lost on the way back.
    if (init.method === 'PATCH' && !lost) {
      lost = true;
      throw new TypeError('fetch failed');
    }
    return res;
  });

  let timer;
  const stuck = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no end after ${calls.length} requests: ${calls.slice(0, 8)}`)), 5_000);
  });
  try {
    const fileId = await Promise.race([upload.start(), stuck]);
    const { body: files } = await service.api('GET', `/api/v1/drafts/${draft.id}/files`);
    assert.deepEqual(files.map((f) => f.id), [fileId]);
    // One HEAD after the lost answer, and nothing sent again.
    assert.deepEqual(calls, ['POST', 'PATCH', 'HEAD']);
  } finally {
    clearTimeout(timer);
    upload.pause();
  }
});

test('a PATCH refused for its offset (an earlier cut chunk landed meanwhile) asks HEAD and goes on from there', async () => {
  const bytes = Buffer.from('# Week 1\nOwnership and borrowing\n# Week 2\nTraits\n');
  let raced = false;
  const { draft, upload, calls } = await planUpload(bytes, async (url, init) => {
    if (init.method === 'PATCH' && !raced) {
      // The first 10 bytes arrive by another way first, as a cut chunk recorded late would.
      raced = true;
      const early = await fetch(url, { ...init, body: bytes.subarray(0, 10) });
      assert.equal(early.status, 204);
    }
    return fetch(url, init);
  });
  try {
    const fileId = await upload.start();
    assert.ok(fileId);
    assert.deepEqual(calls, ['POST', 'PATCH', 'HEAD', 'PATCH']);
    const { body: files } = await service.api('GET', `/api/v1/drafts/${draft.id}/files`);
    assert.deepEqual(files.map((f) => [f.id, f.sizeBytes]), [[fileId, bytes.length]]);
    const stored = await fetch(`${service.baseUrl}/api/v1/courses/${files[0].courseId}/files/${fileId}`, { headers: { Authorization: `Bearer ${await service.token()}` } });
    assert.deepEqual(Buffer.from(await stored.arrayBuffer()), bytes);
  } finally {
    upload.pause();
  }
});
