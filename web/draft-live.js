/**
 * Live changes of a draft across tabs and devices: reads the draft's event stream
 * (`GET /api/v1/drafts/{id}/events`, Server-Sent Events) and hands each change to
 * the {@link DraftClient}, which merges it. `EventSource` cannot send an
 * `Authorization` header, so the stream is read with `fetch`.
 *
 * ```js
 * import { DraftLive } from '/draft-live.js';
 * new DraftLive(client, { getToken }).start();   // follows client.draft.id
 * ```
 *
 * The stream reconnects by itself: after the network drops (backoff from
 * `retryBaseMs`, doubling to `retryMaxMs`, at once on the browser's `online`
 * event), after the service closes it at the token's expiry (with a fresh token),
 * and after a 429 (after its `Retry-After`). Each connection starts with a `hello`
 * carrying the draft's version, so a change made while disconnected is fetched.
 * It ends for good when the draft is submitted, discarded or gone.
 *
 * @module draft-live
 */

import { authorized, backoff } from './api.js';

/** Splits an event stream into events: `{type, data}` (data parsed as JSON). */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // a heartbeat
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
      }
      if (!data.length && type === 'message') continue;
      let parsed = null;
      try {
        parsed = data.length ? JSON.parse(data.join('\n')) : null;
      } catch {
        /* not JSON: passed on as null */
      }
      yield { type, data: parsed };
    }
  }
}

/** Event types after which the stream has nothing more to say. */
const FINAL = new Set(['submitted', 'discarded']);

export class DraftLive extends EventTarget {
  #client;
  #o;
  #id = null;
  #abort = null;
  #timer = null;
  #attempt = 0;
  #refreshToken = false;
  #connected = false;

  /**
   * @param {import('./draft-client.js').DraftClient} client
   * @param {object} options
   * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
   * @param {string} [options.baseUrl='']
   * @param {number} [options.retryBaseMs=1000]
   * @param {number} [options.retryMaxMs=30000]
   * @param {typeof fetch} [options.fetch]
   */
  constructor(client, options) {
    super();
    this.#client = client;
    this.#o = { baseUrl: '', retryBaseMs: 1000, retryMaxMs: 30000, fetch: (...a) => globalThis.fetch(...a), ...options };
  }

  /** @returns {boolean} a stream is open now (its `hello` came); a `change` event says when this flips */
  get connected() {
    return this.#connected;
  }

  /** Follows the client's draft: a stream for each draft it works on. */
  start() {
    const follow = () => {
      const draft = this.#client.draft;
      const id = draft && draft.status !== 'submitted' ? draft.id : null;
      if (id !== this.#id) this.#switch(id);
    };
    this.#client.addEventListener('state', follow);
    globalThis.addEventListener?.('online', () => this.#id && !this.#connected && this.#connect(this.#id));
    follow();
  }

  stop() {
    this.#switch(null);
  }

  #switch(id) {
    this.#abort?.abort();
    clearTimeout(this.#timer);
    this.#set(false);
    this.#id = id;
    this.#attempt = 0;
    if (id) this.#connect(id);
  }

  async #connect(id) {
    clearTimeout(this.#timer);
    this.#abort?.abort();
    const abort = (this.#abort = new AbortController());
    let retryAfter = null;
    let again = true;
    try {
      const refresh = this.#refreshToken;
      this.#refreshToken = false;
      const res = await authorized(this.#o.getToken, (token) => this.#o.fetch(`${this.#o.baseUrl}/api/v1/drafts/${encodeURIComponent(id)}/events`, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
        cache: 'no-store',
        signal: abort.signal,
      }), { refresh });
      if (res.status === 404 || res.status === 410) {
        again = false; // gone (expired, or discarded): the client finds out on its next save
        return;
      }
      if (res.status === 401) this.#refreshToken = true;
      if (res.status === 429) retryAfter = Number(res.headers.get('Retry-After')) * 1000 || null;
      if (!res.ok || !res.body) return;
      for await (const event of readEvents(res.body)) {
        if (event.type === 'hello') {
          this.#attempt = 0;
          this.#set(true);
        }
        if (event.type === 'expired') this.#refreshToken = true;
        await this.#client.applyRemote(event.type, event.data, id).catch(() => {});
        if (FINAL.has(event.type)) {
          again = false;
          return;
        }
      }
    } catch {
      /* offline, or aborted: the retry below (unless aborted) */
    } finally {
      if (this.#abort === abort) {
        this.#set(false);
        if (again && this.#id === id && !abort.signal.aborted) this.#retry(id, retryAfter);
      }
    }
  }

  #set(connected) {
    if (connected === this.#connected) return;
    this.#connected = connected;
    this.dispatchEvent(new Event('change'));
  }

  #retry(id, after) {
    const wait = backoff(this.#attempt++, { baseMs: this.#o.retryBaseMs, maxMs: this.#o.retryMaxMs });
    const delay = this.#refreshToken && this.#attempt === 1 ? 0 : (after ?? wait);
    this.#timer = setTimeout(() => this.#connect(id), delay);
  }
}
