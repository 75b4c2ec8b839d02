// What the browser tests share: a draftd process of their own (fresh database,
// temp upload dir, free loopback port; stoppable and restartable on the same
// port), Chromium, the API, psql, polling helpers and screenshots.
//
// Settings (scripts/e2e.sh sets them; the defaults fit `scripts/services.sh up`):
//   DRAFTD_E2E_BIN        the draftd binary (target/debug/draftd)
//   DRAFTD_E2E_PG_URL     Postgres server, without a database (postgres://draftd@127.0.0.1:5490)
//   DRAFTD_E2E_REDIS_URL  Redis, a database of its own (redis://127.0.0.1:6390/5)
//   DRAFTD_E2E_RUN_DIR    if set, each draftd's pid is written there so that the
//                         script can stop it should a test process die; temp dirs go there too
//   DRAFTD_E2E_CHROMIUM   the browser (/usr/bin/chromium)
//   DRAFTD_E2E_DB_PREFIX  how its databases' names start (draftd_test_e2e)
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { test as nodeTest, before, after } from 'node:test';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');
const env = process.env;
const BIN = env.DRAFTD_E2E_BIN || path.join(ROOT, 'target', 'debug', 'draftd');
const PG_URL = (env.DRAFTD_E2E_PG_URL || 'postgres://draftd@127.0.0.1:5490').replace(/\/+$/, '');
const REDIS_URL = env.DRAFTD_E2E_REDIS_URL || 'redis://127.0.0.1:6390/5';
const CHROMIUM = env.DRAFTD_E2E_CHROMIUM || '/usr/bin/chromium';
const DB_PREFIX = env.DRAFTD_E2E_DB_PREFIX || 'draftd_test_e2e';
// Upload dirs and browser profiles: in the script's run dir, which its trap removes
// even when a test process is killed before its own cleanup.
const TMP = env.DRAFTD_E2E_RUN_DIR || tmpdir();

mkdirSync(ARTIFACTS, { recursive: true });

// --- polling ---------------------------------------------------------------

/** Polls `fn` until it returns a truthy value (which is returned), or fails at the deadline. */
export async function waitFor(fn, { timeout = 10_000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last?.stack ?? JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Checks that `fn` stays truthy for `ms`. Proving that something does NOT happen
 * needs a window of time; this is the only place the tests watch the clock.
 */
export async function staysTrue(fn, ms, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await fn())) throw new Error(`${what} stopped holding`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --- the service -------------------------------------------------------------

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function psqlAt(url, sql) {
  const { stdout } = await run('psql', [url, '-XtAq', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  return stdout.trim();
}

/** Children still running when this process ends are stopped with it. */
const live = new Set();
process.on('exit', () => live.forEach((child) => child.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    live.forEach((child) => child.kill('SIGKILL'));
    process.exit(130);
  });
}

/** One draftd in dev mode with a database of its own. */
export class Service {
  /**
   * @param {string} name  a short label for the database and the log file
   * @param {{redisDown?: boolean, env?: Record<string, string>}} options  redisDown: Redis
   *   refuses every connection; env: settings of this test file's own (DRAFTD_*)
   */
  static async create(name, { redisDown = false, env: settings = {} } = {}) {
    const service = new Service(name, await freePort());
    service.redisUrl = redisDown ? `redis://127.0.0.1:${await freePort()}` : REDIS_URL;
    service.settings = settings;
    await psqlAt(`${PG_URL}/postgres`, `CREATE DATABASE ${service.db}`);
    await service.start();
    return service;
  }

  constructor(name, port) {
    this.name = name;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    // draftd_test_ so that `scripts/services.sh drop-test-databases` clears leftovers too.
    this.db = `${DB_PREFIX}_${name.replace(/\W/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
    this.databaseUrl = `${PG_URL}/${this.db}`;
    this.uploadDir = mkdtempSync(path.join(TMP, 'draftd-e2e-uploads-'));
    this.logFile = path.join(ARTIFACTS, `draftd-${name}.log`);
    writeFileSync(this.logFile, '');
    this.child = null;
    this.redisUrl = REDIS_URL;
    this.settings = {};
  }

  /** Starts draftd (again) on the same port and waits until it is ready. */
  async start() {
    const log = openSync(this.logFile, 'a');
    const child = spawn(BIN, ['serve'], {
      stdio: ['ignore', log, log],
      env: {
        ...env,
        DRAFTD_DEV_MODE: 'true',
        DRAFTD_BIND: `127.0.0.1:${this.port}`,
        DRAFTD_DATABASE_URL: this.databaseUrl,
        DRAFTD_REDIS_URL: this.redisUrl,
        DRAFTD_UPLOAD_DIR: this.uploadDir,
        // Every test run makes drafts for the same demo user: no cap in the way.
        DRAFTD_MAX_DRAFTS_PER_USER: '100000',
        // Every open page of that user follows its draft's event stream.
        DRAFTD_EVENTS_PER_USER: '1000',
        // Scheduled jobs off: the test files share one Redis database, and an
        // orphan sweep would take other files' drafts for orphans.
        DRAFTD_JANITOR_CRON: 'off',
        DRAFTD_ORPHAN_SWEEP_CRON: 'off',
        DRAFTD_LOG: env.DRAFTD_LOG || 'warn',
        ...this.settings,
      },
    });
    this.child = child;
    live.add(child);
    // For scripts/e2e.sh's trap, should this process die without stopping draftd;
    // removed as soon as draftd exits, so the pid is never a stranger's.
    const pidFile = env.DRAFTD_E2E_RUN_DIR && path.join(env.DRAFTD_E2E_RUN_DIR, `draftd-${child.pid}.pid`);
    if (pidFile) writeFileSync(pidFile, String(child.pid));
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.once('exit', () => {
      live.delete(child);
      if (pidFile) rmSync(pidFile, { force: true });
    });
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode) throw new Error(`draftd exited; see ${this.logFile}`);
        // Without Redis the service is alive but never ready.
        const probe = this.redisUrl === REDIS_URL ? 'readyz' : 'healthz';
        const res = await fetch(`${this.baseUrl}/${probe}`);
        return res.ok;
      },
      { timeout: 30_000, what: `draftd on ${this.baseUrl} (log: ${this.logFile})` },
    );
  }

  /** Kills draftd at once, as a crash or a lost network would; the port goes dead. */
  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async destroy() {
    await this.kill();
    await psqlAt(`${PG_URL}/postgres`, `DROP DATABASE IF EXISTS ${this.db} WITH (FORCE)`).catch(() => {});
    rmSync(this.uploadDir, { recursive: true, force: true });
  }

  /** Runs SQL against this service's database; rows as text, fields separated by |. */
  sql(query) {
    return psqlAt(this.databaseUrl, query);
  }

  /** `SELECT count(*)` of a table, with an optional WHERE clause. */
  async count(table, where = 'true') {
    return Number(await this.sql(`SELECT count(*) FROM ${table} WHERE ${where}`));
  }

  /** A dev token for the demo user, the same user as the page's. */
  async token() {
    this._token ??= (await (await fetch(`${this.baseUrl}/api/v1/dev/token`)).json()).token;
    return this._token;
  }

  /** An API call as the demo user: {status, body}. */
  async api(method, apiPath, { json, headers = {} } = {}) {
    const res = await fetch(this.baseUrl + apiPath, {
      method,
      headers: {
        Authorization: `Bearer ${await this.token()}`,
        ...(json === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  /** The draft as the service holds it (throws unless 200). */
  async draft(id) {
    const { status, body } = await this.api('GET', `/api/v1/drafts/${id}`);
    if (status !== 200) throw new Error(`GET draft ${id}: ${status} ${JSON.stringify(body)}`);
    return body;
  }
}

// --- the browser -------------------------------------------------------------

/** Browser contexts open in this process, for screenshots of a failure. */
const contexts = new Set();

/** `node:test`'s test, plus a screenshot of every open tab when it fails. */
export function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const slug = name.replace(/\W+/g, '-').slice(0, 60);
      let i = 0;
      for (const context of contexts) {
        for (const page of context.pages()) {
          await page.screenshot({ path: path.join(ARTIFACTS, `failed-${slug}-${i++}.png`), fullPage: true }).catch(() => {});
        }
      }
      throw err;
    }
  });
}

/**
 * A test file's service and browser: started before its tests, stopped after
 * them. `use(service, chrome)` receives both once they run.
 */
/**
 * Every file's service counts the demo user's writes in the one Redis
 * database, some under a one-second window: a file starts with the user's
 * write and autosave budgets unspent, whatever the file before it counted.
 */
async function resetRateWindows() {
  const { stdout } = await run('redis-cli', ['-u', REDIS_URL, '--scan', '--pattern', 'draft:*rate:*']);
  const keys = stdout.split('\n').filter(Boolean);
  if (keys.length) await run('redis-cli', ['-u', REDIS_URL, 'DEL', ...keys]);
}

export function suite(name, options, use) {
  let service, chrome;
  before(async () => {
    await resetRateWindows();
    service = await Service.create(name, options);
    chrome = await browser();
    use(service, chrome);
  });
  after(async () => {
    await chrome?.close();
    await service?.destroy();
  });
}

/** A new tab at the form. */
export async function openForm(service, chrome) {
  const page = await chrome.page();
  await page.goto(service.baseUrl);
  return page;
}

/** A fresh Chromium profile: one browser context, closed by `close()`. */
export async function browser() {
  const profile = mkdtempSync(path.join(TMP, 'draftd-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  contexts.add(context);
  let blank = context.pages()[0]; // a persistent context opens with one tab
  return {
    context,
    /** A tab, with the page's script errors forwarded to the test output. */
    async page() {
      const page = blank ?? (await context.newPage());
      blank = null;
      page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
      return page;
    },
    async close() {
      contexts.delete(context);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** This tab's draft id, as the page keeps it. */
export async function draftId(page) {
  return waitFor(() => page.evaluate(() => JSON.parse(sessionStorage.getItem('draftd.draft') || '{}').id), { what: 'a draft id in sessionStorage' });
}

/**
 * Fills the form's fields in the order given, as a person would: a field by
 * its id (a number as its digits), a group of checkboxes (an array) by
 * checking each value.
 */
export async function fillForm(page, fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (Array.isArray(value)) {
      for (const choice of value) await page.check(`input[name="${name}"][value="${choice}"]`);
    } else {
      await page.fill(`#${name}`, String(value));
    }
  }
}

/** Waits for the save indicator to show `state`. */
export function saveState(page, state, timeout) {
  return page.waitForSelector(`#save-status[data-state="${state}"]`, { timeout });
}

/** A full-page screenshot in e2e/artifacts/, from the top (else the sticky bar lands mid-page). */
export async function screenshot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
