/**
 * A resumable upload of one file, by the tus 1.0.0 protocol (core, creation,
 * termination): creation (`POST`), then `PATCH`es of a chunk each from the offset
 * the server holds, asking it (`HEAD`) after any failure. A broken connection
 * costs at most the chunk in flight: the upload waits, then resumes where the
 * server's offset is, by itself (backoff, and at once on the browser's `online`
 * event). Its address is kept in `localStorage` under the file's name, size and
 * date, so choosing the same file again after a reload resumes it too.
 *
 * ```js
 * const upload = new TusUpload(file, { endpoint: `/api/v1/drafts/${id}/uploads`, getToken });
 * upload.addEventListener('progress', () => bar.value = upload.sent / upload.total);
 * const fileId = await upload.start();   // pause() / start() again / abort()
 * ```
 *
 * @module tus-upload
 */

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
  }
}

export class TusUpload extends EventTarget {
  #file;
  #o;
  #url = null;
  #offset = 0;
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
   * @param {Storage} [options.storage=localStorage]
   * @param {typeof fetch} [options.fetch]
   */
  constructor(file, options) {
    super();
    this.#file = file;
    this.#o = {
      chunkSize: 5 << 20,
      retryBaseMs: 1000,
      retryMaxMs: 30000,
      storage: globalThis.localStorage,
      fetch: (...a) => globalThis.fetch(...a),
      ...options,
    };
  }

  get sent() {
    return this.#offset;
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

  /** Stops sending after aborting the chunk in flight; start() resumes. */
  pause() {
    this.#paused = true;
    this.#abort?.abort();
    this.#wake?.();
  }

  /** Stops for good and asks the server to drop what it has (termination). */
  async abort() {
    this.pause();
    this.#forget();
    if (this.#url) await this.#send('DELETE', this.#url).catch(() => {});
  }

  async #run() {
    for (let attempt = 0; ; ) {
      if (this.#paused) throw Object.assign(new Error('paused'), { name: 'AbortError' });
      try {
        if (!this.#url) this.#url = this.#o.storage?.getItem(this.#key) ?? null;
        if (this.#url) {
          const head = await this.#send('HEAD', this.#url);
          if (head.status === 404 || head.status === 410) {
            this.#forget(); // expired or removed: start over
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
        if (err instanceof UploadError && !TRANSIENT.has(err.status)) {
          if (err.status === 404 || err.status === 409) this.#forget();
          throw err;
        }
        if (this.#paused) throw Object.assign(new Error('paused'), { name: 'AbortError' });
        // Offline, or the server is away: wait, then ask it where we are.
        const delay = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** attempt++);
        this.dispatchEvent(new Event('waiting'));
        await this.#sleep(delay * (1 - Math.random() * 0.2));
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
  async #send(method, url, headers = {}, body) {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#o.getToken({ refresh: attempt > 0 });
      this.#abort = new AbortController();
      const res = await this.#o.fetch(url, {
        method,
        headers: { ...TUS, Authorization: `Bearer ${token}`, ...headers },
        body,
        cache: 'no-store',
        signal: this.#abort.signal,
      });
      if (res.status !== 401 || attempt > 0) return res;
    }
  }

  #progress() {
    this.dispatchEvent(new Event('progress'));
  }

  /** Waits `ms`, or less if the network comes back or the upload is paused. */
  #sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        globalThis.removeEventListener?.('online', done);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      globalThis.addEventListener?.('online', done);
      this.#wake = done;
    });
  }
}
