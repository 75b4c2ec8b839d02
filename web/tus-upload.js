/**
 * A resumable upload of one file, by the tus 1.0.0 protocol (core, creation,
 * termination): creation (`POST`), then `PATCH`es of a chunk each from the offset
 * the server holds, asking it (`HEAD`) after any failure. The server keeps what
 * a cut `PATCH` brought, so a broken connection or a pause costs only the bytes
 * still on the way: the upload waits, then resumes where the server's offset is,
 * by itself (backoff, and at once on the browser's `online` event). In a browser
 * a `PATCH` goes by `XMLHttpRequest`, whose upload progress moves `sent` within
 * a chunk (fetch reports none). Its address is kept in `localStorage` (or the
 * `storage` given) under the file's name, size and date, so choosing the same
 * file again after a reload resumes it too.
 *
 * ```js
 * const upload = new TusUpload(file, { endpoint: `/api/v1/drafts/${id}/uploads`, getToken });
 * upload.addEventListener('progress', () => bar.value = upload.sent / upload.total);
 * const fileId = await upload.start();   // pause() / start() again / abort()
 * ```
 *
 * Events: `progress` (bytes moved), `waiting` (for the connection or the
 * server), `expired` (the kept address answered 404 or 410: starting over).
 *
 * @module tus-upload
 */

// Relative, so that the module also loads outside the page (Node's tests).
import { authorized, backoff, cutWhenOffline, waitOrOnline, xhrFetch } from './api.js';

const TUS = { 'Tus-Resumable': '1.0.0' };
/** Statuses after which the same request may work later. */
const TRANSIENT = new Set([408, 423, 429, 500, 502, 503, 504]);

/** base64 of a string's UTF-8 bytes (Upload-Metadata values). */
function base64(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A failure the server answered: not worth retrying as it is. */
export class UploadError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'UploadError';
    this.status = status;
    /** The RFC 9457 problem as answered (`type`, `detail`, `limit`…), or `{}`. */
    this.problem = problem || {};
  }
}

/** 409 for a PATCH that started at an offset the server has moved past: ask it again. */
const isOffsetMismatch = (err) => err.status === 409 && /offset-mismatch$/.test(err.problem.type || '');

const aborted = () => Object.assign(new Error('paused'), { name: 'AbortError' });

/** One tus request to an upload's address, a 401 retried once with a fresh token. */
function ask(method, url, { getToken, fetch = (...a) => globalThis.fetch(...a) }) {
  return authorized(getToken, (token) => fetch(url, { method, headers: { ...TUS, Authorization: `Bearer ${token}` }, cache: 'no-store' }));
}

/**
 * How far an upload kept at `url` has come, by `HEAD` (e.g. one a reload left).
 * @param {string} url
 * @param {{getToken: Function, fetch?: typeof fetch}} options
 * @returns {Promise<{offset: number, length: number}|null>} null once it is gone (404, 410: expired or removed)
 * @throws {UploadError|TypeError} another answer, or no connection
 */
export async function probe(url, options) {
  const res = await ask('HEAD', url, options);
  if (res.status === 404 || res.status === 410) return null;
  if (!res.ok) throw new UploadError(res.status, null);
  return { offset: Number(res.headers.get('Upload-Offset')), length: Number(res.headers.get('Upload-Length')) };
}

/**
 * Asks the server to drop an upload kept at `url` (termination); one already
 * gone is fine.
 * @returns {Promise<void>} never rejects: an upload left behind expires by itself
 */
export async function terminate(url, options) {
  await ask('DELETE', url, options).catch(() => {});
}

export class TusUpload extends EventTarget {
  #file;
  #o;
  #url = null;
  #offset = 0;
  /** bytes of the PATCH in flight handed to the network so far */
  #sending = 0;
  #xhr;
  #running = null;
  #abort = null;
  #paused = false;
  #wake = null;

  /**
   * @param {File} file
   * @param {object} options
   * @param {string} options.endpoint  the creation URL (`/api/v1/drafts/{id}/uploads`)
   * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
   * @param {number} [options.chunkSize=5242880]
   * @param {number} [options.retryBaseMs=1000]
   * @param {number} [options.retryMaxMs=30000]
   * @param {number} [options.settleMs=300]  after a pause, how long to let the server record the cut chunk before asking it
   * @param {Storage} [options.storage=localStorage]
   * @param {typeof fetch} [options.fetch]  for every request (then PATCHes report no progress within a chunk)
   */
  constructor(file, options) {
    super();
    this.#file = file;
    this.#xhr = !options.fetch && typeof XMLHttpRequest === 'function';
    this.#o = {
      chunkSize: 5 << 20,
      retryBaseMs: 1000,
      retryMaxMs: 30000,
      settleMs: 300,
      storage: globalThis.localStorage,
      fetch: (...a) => globalThis.fetch(...a),
      ...options,
    };
  }

  /** Bytes the server holds, plus those of the chunk in flight already handed to the network. */
  get sent() {
    return Math.min(this.#file.size, this.#offset + this.#sending);
  }

  get total() {
    return this.#file.size;
  }

  get paused() {
    return this.#paused;
  }

  /** Where the upload's address is kept between page loads. */
  get #key() {
    const f = this.#file;
    return `draftd.tus:${this.#o.endpoint}:${f.name}:${f.size}:${f.lastModified}`;
  }

  /**
   * Uploads (or resumes) until the server has every byte.
   * @returns {Promise<string|null>} the new file's id, when the server names it
   */
  start() {
    this.#paused = false;
    this.#running ??= this.#run().finally(() => (this.#running = null));
    return this.#running;
  }

  /**
   * Stops sending: the chunk in flight is cut, and the server keeps what of it
   * arrived. Resolves once `sent` is what the server holds (it is asked); start()
   * resumes from there.
   * @returns {Promise<void>} never rejects
   */
  async pause() {
    this.#halt();
    await this.#running?.catch(() => {});
    // The server records a cut chunk once it sees the connection close; until
    // then HEAD answers its last checkpoint.
    await new Promise((resolve) => setTimeout(resolve, this.#o.settleMs));
    if (!this.#paused || !this.#url) return;
    try {
      const at = await probe(this.#url, { getToken: this.#o.getToken, fetch: this.#o.fetch });
      if (at && this.#paused) this.#offset = at.offset;
    } catch {
      /* unknown for now: the resume asks again */
    }
    this.#progress();
  }

  #halt() {
    this.#paused = true;
    this.#abort?.abort();
    this.#wake?.();
  }

  /** Stops for good and asks the server to drop what it has (termination). */
  async abort() {
    this.#halt();
    const url = this.#url;
    this.#forget();
    if (url) await this.#send('DELETE', url).catch(() => {});
  }

  async #run() {
    for (let attempt = 0; ; ) {
      if (this.#paused) throw aborted();
      try {
        if (!this.#url) this.#url = this.#o.storage?.getItem(this.#key) ?? null;
        if (this.#url) {
          const head = await this.#send('HEAD', this.#url);
          if (head.status === 404 || head.status === 410) {
            this.#forget(); // expired or removed: start over
            this.#offset = 0;
            this.dispatchEvent(new Event('expired'));
            continue;
          }
          await this.#check(head);
          this.#offset = Number(head.headers.get('Upload-Offset'));
          // The server reports the whole length only once the file is
          // recorded (a HEAD finishes an upload whose last bytes a crash
          // left unrecorded): the upload is done, nothing is left to send.
          if (this.#file.size > 0 && this.#offset >= this.#file.size) {
            this.#progress();
            this.#forget();
            return head.headers.get('Draftd-File-Id');
          }
        } else {
          await this.#create();
        }
        this.#progress();
        while (this.#offset < this.#file.size || this.#file.size === 0) {
          const end = Math.min(this.#file.size, this.#offset + this.#o.chunkSize);
          const res = await this.#send('PATCH', this.#url, {
            'Content-Type': 'application/offset+octet-stream',
            'Upload-Offset': String(this.#offset),
          }, this.#file.slice(this.#offset, end));
          this.#sending = 0;
          await this.#check(res);
          this.#offset = Number(res.headers.get('Upload-Offset'));
          attempt = 0;
          this.#progress();
          if (this.#offset >= this.#file.size) {
            this.#forget();
            return res.headers.get('Draftd-File-Id');
          }
        }
      } catch (err) {
        this.#sending = 0;
        if (err instanceof UploadError && !TRANSIENT.has(err.status) && !isOffsetMismatch(err)) {
          this.#forget(); // refused, removed or expired: nothing to resume
          throw err;
        }
        if (this.#paused) throw aborted();
        // Offline, or the server is away: wait, then ask it where we are.
        const delay = backoff(attempt++, { baseMs: this.#o.retryBaseMs, maxMs: this.#o.retryMaxMs });
        this.dispatchEvent(new Event('waiting'));
        await this.#sleep(delay);
      }
    }
  }

  async #create() {
    const f = this.#file;
    const metadata = `filename ${base64(f.name)},filetype ${base64(f.type || 'application/octet-stream')}`;
    const res = await this.#send('POST', this.#o.endpoint, {
      'Upload-Length': String(f.size),
      'Upload-Metadata': metadata,
    });
    await this.#check(res);
    this.#url = new URL(res.headers.get('Location'), location.href).pathname;
    this.#offset = 0;
    try {
      this.#o.storage?.setItem(this.#key, this.#url);
    } catch {
      /* no storage: resumable within this page only */
    }
  }

  #forget() {
    this.#url = null;
    try {
      this.#o.storage?.removeItem(this.#key);
    } catch {
      /* nothing kept */
    }
  }

  async #check(res) {
    if (res.ok) return;
    let problem = null;
    try {
      problem = await res.json();
    } catch {
      /* no problem body */
    }
    throw new UploadError(res.status, problem);
  }

  /** One request with the bearer token; a 401 is retried once with a fresh one. */
  #send(method, url, headers = {}, body) {
    return authorized(this.#o.getToken, async (token) => {
      this.#abort = new AbortController();
      const init = {
        method,
        headers: { ...TUS, Authorization: `Bearer ${token}`, ...headers },
        body,
        cache: 'no-store',
        signal: this.#abort.signal,
      };
      // The browser going offline cuts the request (the server keeps what arrived).
      const stop = cutWhenOffline(this.#abort);
      try {
        if (method !== 'PATCH' || !this.#xhr) return await this.#o.fetch(url, init);
        // By XMLHttpRequest, for its upload progress: `sent` moves as the chunk goes.
        return await xhrFetch(url, init, (loaded) => {
          this.#sending = loaded;
          this.#progress();
        });
      } finally {
        stop();
      }
    });
  }

  #progress() {
    this.dispatchEvent(new Event('progress'));
  }

  /** Waits `ms`, or less if the network comes back or the upload is paused. */
  async #sleep(ms) {
    const { done, wake } = waitOrOnline(ms);
    this.#wake = wake;
    await done;
    this.#wake = null;
  }
}
