/**
 * How the page's modules talk to draftd: one request with the bearer token (a
 * 401 retried once with a fresh one), what counts as offline, the retry backoff,
 * an `XMLHttpRequest` that answers like `fetch` (for upload progress), and JSON
 * Merge Patch (RFC 7396). No dependencies, no build step; loads in Node too.
 *
 * ```js
 * import { request, OfflineError } from './api.js';
 * const draft = await request('GET', `/api/v1/drafts/${id}`, { getToken });
 * ```
 *
 * @module api
 */

/** An RFC 9457 problem answered by the service. */
export class ProblemError extends Error {
  /**
   * @param {number} status
   * @param {{type?: string, title?: string, detail?: string, errors?: Object<string, string[]>}|null} problem
   */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ProblemError';
    this.status = status;
    this.problem = problem || {};
    /** @type {Object<string, string[]>} messages per form field (422) */
    this.errors = problem?.errors || {};
  }
}

/** The service could not be reached (network down, timeout, 502/503/504). */
export class OfflineError extends Error {
  constructor(cause) {
    super('the service cannot be reached', { cause });
    this.name = 'OfflineError';
  }
}

/** Statuses that mean "the service is not there right now": retry later. */
export const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * The wait before retry number `attempt` (from 0): `baseMs`, doubling, at most
 * `maxMs`, up to 20 % shorter (jitter: clients do not return in lockstep).
 */
export function backoff(attempt, { baseMs = 1000, maxMs = 30000 } = {}) {
  return Math.min(maxMs, baseMs * 2 ** attempt) * (1 - Math.random() * 0.2);
}

/**
 * Sends with the bearer token; a 401 (an expired token) is sent again once with
 * a fresh one. `send(token)` resolves to anything with a `status`.
 * @param {(opts: {refresh: boolean}) => Promise<string>} getToken
 * @param {(token: string) => Promise<{status: number}>} send
 * @param {{refresh?: boolean}} [options]  `refresh`: a fresh token from the first try
 */
export async function authorized(getToken, send, { refresh = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(await getToken({ refresh: refresh || attempt > 0 }));
    if (res.status !== 401 || attempt > 0) return res;
  }
}

/**
 * One JSON call of the API. `minimal` asks for no body back
 * (`Prefer: return=minimal`) and answers a 204 as `{ etag }`.
 * @param {string} method
 * @param {string} path
 * @param {object} options
 * @param {(opts: {refresh: boolean}) => Promise<string>} options.getToken
 * @param {typeof fetch} [options.fetch]
 * @param {string} [options.baseUrl='']
 * @param {*} [options.json]  the body, as JSON
 * @param {BodyInit} [options.body]  or the body as it is
 * @param {Object<string, string>} [options.headers]
 * @param {boolean} [options.minimal=false]
 * @param {number} [options.timeout=15000]  taking longer counts as offline; 0: no limit
 * @returns {Promise<*>} the parsed JSON body (null for 204)
 * @throws {OfflineError|ProblemError}
 */
export async function request(method, path, options) {
  const { getToken, fetch = (...a) => globalThis.fetch(...a), baseUrl = '', json, body, headers = {}, minimal = false, timeout = 15000 } = options;
  const token = async (opts) => {
    try {
      return await getToken(opts);
    } catch (err) {
      throw err instanceof TypeError || UNAVAILABLE.has(err.status) ? new OfflineError(err) : err;
    }
  };
  const { res, text } = await authorized(token, async (bearer) => {
    const init = {
      method,
      headers: { Accept: 'application/json, application/problem+json', Authorization: `Bearer ${bearer}`, ...headers },
      body: json !== undefined ? JSON.stringify(json) : body,
    };
    if (json !== undefined) init.headers['Content-Type'] ??= 'application/json';
    if (minimal) init.headers.Prefer = 'return=minimal';
    const abort = timeout ? new AbortController() : null;
    const timer = abort && setTimeout(() => abort.abort(), timeout);
    init.signal = abort?.signal;
    try {
      const answer = await fetch(baseUrl + path, init);
      return { status: answer.status, res: answer, text: await answer.text() };
    } catch (err) {
      throw new OfflineError(err);
    } finally {
      clearTimeout(timer);
    }
  });
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON, e.g. a proxy's error page */
  }
  if (UNAVAILABLE.has(res.status)) throw new OfflineError(new ProblemError(res.status, data));
  if (!res.ok) throw new ProblemError(res.status, data);
  if (minimal && res.status === 204) return { etag: res.headers.get('ETag') };
  return data;
}

/** The version an ETag (`"<version>"`) names, or NaN. */
export const versionOf = (etag) => Number(/^"(\d+)"$/.exec(etag ?? '')?.[1]);

/**
 * `fetch` by XMLHttpRequest, for its upload progress (fetch reports none).
 * @param {string} url
 * @param {{method: string, headers: Object<string, string>, body?: BodyInit, signal: AbortSignal}} init
 * @param {(loaded: number) => void} onProgress  bytes of the body handed to the network so far
 * @returns {Promise<Response>}  rejects with a TypeError (network) or an AbortError
 */
export function xhrFetch(url, { method, headers, body, signal }, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      const answer = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/\r?\n/)) {
        const at = line.indexOf(':');
        if (at > 0) answer.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      const empty = xhr.status === 204 || xhr.status === 304 || !xhr.responseText;
      resolve(new Response(empty ? null : xhr.responseText, { status: xhr.status, headers: answer }));
    };
    xhr.onerror = xhr.ontimeout = () => reject(new TypeError('network error'));
    xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'));
    if (signal.aborted) return xhr.onabort();
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/**
 * Cuts a request when the browser goes offline: one on a connection that went
 * away may hang rather than fail.
 * @param {AbortController} abort
 * @returns {() => void} stops watching
 */
export function cutWhenOffline(abort) {
  const cut = () => abort.abort();
  globalThis.addEventListener?.('offline', cut);
  return () => globalThis.removeEventListener?.('offline', cut);
}

/**
 * Waits `ms`, or less if the network comes back (the browser's `online` event)
 * or `wake()` is called.
 * @returns {{done: Promise<void>, wake: () => void}}
 */
export function waitOrOnline(ms) {
  let wake;
  const done = new Promise((resolve) => {
    wake = () => {
      clearTimeout(timer);
      globalThis.removeEventListener?.('online', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    globalThis.addEventListener?.('online', wake);
  });
  return { done, wake };
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * JSON Merge Patch (RFC 7396): `patch` applied to `target`, which is left as it
 * is. `null` removes a member, an object is merged member by member, anything
 * else (arrays included) replaces.
 * @param {*} target
 * @param {*} patch  an object, or a Map of members
 * @returns {*}
 */
export function applyMergePatch(target, patch) {
  const members = patch instanceof Map ? Object.fromEntries(patch) : patch;
  if (!isObject(members)) return members;
  const result = isObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(members)) {
    if (value === null) delete result[name];
    else result[name] = applyMergePatch(result[name], value);
  }
  return result;
}
