// Resumable uploads with the reference tus client, tus-js-client (npm),
// against the service: an upload cut off, the service restarted, the upload
// resumed from its stored offset; termination; another user's upload URL;
// an expired unfinished upload swept. No browser: tus-js-client's Node build.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Service, waitFor } from '../lib/harness.js';

const tus = createRequire(import.meta.url)('tus-js-client');

// A secret of these tests' own, so that they can sign tokens of other users
// and of an operator.
const SECRET = 'e2e-tus-secret-that-is-long-enough-for-hs256';
const MB = 1000 * 1000;

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** An HS256 access token, as draftd's JWT settings expect. */
function token(claims) {
  const body = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Files under `dir`, recursively; none if it is gone. */
function filesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** A PDF of `size` bytes: the header, then noise. */
function pdf(size) {
  const header = Buffer.from('%PDF-1.7\n');
  return Buffer.concat([header, randomBytes(size - header.length)]);
}

/** Runs a tus-js-client upload to its end; resolves with what its requests saw. */
function run(options, input) {
  const seen = { methods: [], patchOffsets: [], fileLocation: null };
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(input, {
      retryDelays: [0, 500, 1000, 2000],
      ...options,
      onBeforeRequest(req) {
        seen.methods.push(req.getMethod());
        if (req.getMethod() === 'PATCH') seen.patchOffsets.push(Number(req.getHeader('Upload-Offset')));
      },
      onAfterResponse(req, res) {
        seen.fileLocation = res.getHeader('Draftd-File-Location') ?? seen.fileLocation;
      },
      onSuccess: () => resolve({ upload, seen }),
      onError: reject,
    });
    upload.start();
  });
}

describe('resumable uploads with tus-js-client', () => {
  let service;
  let auth;

  before(async () => {
    service = await Service.create('tus', { env: { DRAFTD_JWT_SECRET: SECRET } });
    auth = { Authorization: `Bearer ${await service.token()}` };
  });
  after(async () => {
    await service?.destroy();
  });

  async function newDraft() {
    const { status, body } = await service.api('POST', '/api/v1/drafts', { json: { formData: { topic: 'Resumable' } } });
    assert.equal(status, 201);
    return body.id;
  }

  test('a 60 MB upload cut off, the service restarted, resumes from the stored offset', async () => {
    const draft = await newDraft();
    const content = pdf(60 * MB);
    const options = {
      endpoint: `${service.baseUrl}/api/v1/drafts/${draft}/uploads`,
      headers: auth,
      metadata: { filename: 'lecture.pdf', filetype: 'application/pdf' },
    };

    // Cut off a third of the way: abort() destroys the request and its socket.
    let url;
    await new Promise((resolve, reject) => {
      const upload = new tus.Upload(content, {
        ...options,
        retryDelays: null,
        onUploadUrlAvailable: () => { url = upload.url; },
        onProgress(sent) {
          if (sent > 20 * MB && !upload.cut) {
            upload.cut = true;
            upload.abort().then(resolve, reject);
          }
        },
        onSuccess: () => reject(new Error('the upload ended before it was cut off')),
        onError: reject,
      });
      upload.start();
    });
    assert.match(url, /\/uploads\/[0-9a-f-]{36}$/);
    // The service keeps every byte that arrived, then lets go of the upload.
    const stored = await waitFor(async () => {
      const row = await service.sql('SELECT upload_offset, lease_id IS NULL FROM tus_uploads');
      const [offset, released] = row.split('|');
      return released === 't' && Number(offset) > 0 && Number(offset);
    }, { what: 'the cut-off upload stored and released' });

    await service.kill();
    await service.start();
    assert.equal(await service.count('courses'), 0, 'no file yet, no course');

    const { seen } = await run({ ...options, uploadUrl: url }, content);
    assert.ok(!seen.methods.includes('POST'), `resumed, not created again: ${seen.methods}`);
    assert.equal(seen.patchOffsets[0], stored, 'the first PATCH starts at the stored offset');
    assert.ok(stored > 0 && stored < content.length);
    assert.match(seen.fileLocation, /^\/api\/v1\/courses\/[0-9a-f-]{36}\/files\/[0-9a-f-]{36}$/);

    const download = await fetch(service.baseUrl + seen.fileLocation, { headers: auth });
    assert.equal(download.status, 200);
    assert.equal(sha256(Buffer.from(await download.arrayBuffer())), sha256(content));
    assert.equal(await service.count('course_files'), 1);
    assert.equal((await service.draft(draft)).status, 'materialized');
  });

  test('termination removes the bytes', async () => {
    const draft = await newDraft();
    const content = pdf(8 * MB);
    let url;
    await new Promise((resolve, reject) => {
      const upload = new tus.Upload(content, {
        endpoint: `${service.baseUrl}/api/v1/drafts/${draft}/uploads`,
        headers: auth,
        metadata: { filename: 'slides.pdf', filetype: 'application/pdf' },
        chunkSize: 2 * MB,
        onChunkComplete(chunk, sent) {
          if (sent >= 4 * MB && !upload.cut) {
            upload.cut = true;
            url = upload.url;
            upload.abort().then(resolve, reject);
          }
        },
        onError: reject,
      });
      upload.start();
    });
    // The staging files of unfinished uploads (the first test's file is stored too).
    const staged = () => filesUnder(path.join(service.uploadDir, '.tus')).length;
    assert.equal(staged(), 1, 'its staging file');

    await tus.Upload.terminate(url, { headers: auth });
    const head = await fetch(url, { method: 'HEAD', headers: { ...auth, 'Tus-Resumable': '1.0.0' } });
    assert.equal(head.status, 404);
    assert.equal(staged(), 0);
    const id = url.split('/').pop();
    assert.equal(await service.count('tus_uploads', `id = '${id}'`), 0);
  });

  test("another user's upload URL is a 404", async () => {
    const draft = await newDraft();
    const { upload } = await run({
      endpoint: `${service.baseUrl}/api/v1/drafts/${draft}/uploads`,
      headers: auth,
      metadata: { filename: 'notes.md', filetype: 'text/markdown' },
    }, Buffer.from('# Week 1\nOwnership\n'));
    const demo = await (await fetch(`${service.baseUrl}/api/v1/dev/token`)).json();
    const strangers = [
      token({ sub: randomUUID(), org_id: randomUUID() }),
      token({ sub: demo.userId, org_id: randomUUID() }),
    ];
    for (const stranger of strangers) {
      const headers = { Authorization: `Bearer ${stranger}` };
      const head = await fetch(upload.url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } });
      assert.equal(head.status, 404);
      const error = await run({ uploadUrl: upload.url, headers, retryDelays: null }, Buffer.from('x')).then(
        () => null,
        (e) => e,
      );
      assert.equal(error?.originalResponse?.getStatus(), 404, String(error));
    }
  });
});

describe('an expired unfinished upload', () => {
  let service;
  after(async () => {
    await service?.destroy();
  });

  test('is swept, bytes and all', async () => {
    service = await Service.create('tus-expiry', { env: { DRAFTD_JWT_SECRET: SECRET, DRAFTD_DRAFT_TTL_SECS: '2' } });
    const auth = { Authorization: `Bearer ${await service.token()}` };
    const { body: draft } = await service.api('POST', '/api/v1/drafts', { json: {} });
    const content = Buffer.from('# Week 1\nOwnership and borrowing\n');
    let url;
    await new Promise((resolve, reject) => {
      const upload = new tus.Upload(content, {
        endpoint: `${service.baseUrl}/api/v1/drafts/${draft.id}/uploads`,
        headers: auth,
        metadata: { filename: 'plan.md', filetype: 'text/markdown' },
        chunkSize: 10,
        onChunkComplete(chunk, sent) {
          if (!upload.cut) {
            upload.cut = true;
            url = upload.url;
            upload.abort().then(resolve, reject);
          }
        },
        onError: reject,
      });
      upload.start();
    });
    assert.equal(filesUnder(service.uploadDir).length, 1);

    const expired = await waitFor(async () => {
      const head = await fetch(url, { method: 'HEAD', headers: { ...auth, 'Tus-Resumable': '1.0.0' } });
      return head.status === 404;
    }, { what: 'the upload to expire with the draft TTL' });
    assert.ok(expired);
    assert.equal(filesUnder(service.uploadDir).length, 1, 'expired, not yet swept');

    const operator = { Authorization: `Bearer ${token({ role: 'service_role' })}` };
    const sweep = await fetch(`${service.baseUrl}/api/v1/admin/orphans/sweep`, { method: 'POST', headers: operator });
    assert.equal(sweep.status, 200);
    assert.equal((await sweep.json()).expiredUploads, 1);
    assert.equal(filesUnder(service.uploadDir).length, 0);
    assert.equal(await service.count('tus_uploads'), 0);
  });
});
