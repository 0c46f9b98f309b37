// What the browser and interoperability tests share: the server binary,
// servers on free loopback ports, Debian's Chromium, and helpers that drive
// the reference page. Everything listens on 127.0.0.1.
//
// DAILYREPS_BACKUP_BIN may name a prebuilt server binary (run-tests.sh builds
// one); otherwise the binary is built from the repository into a temp dir.
// CHROMIUM_PATH overrides /usr/bin/chromium.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Limits high enough that the functional tests never trip them; the
// rate-limit test starts its own server with the defaults.
export const RELAXED_LIMITS = {
  DAILYREPS_IP_BURST: '100000',
  DAILYREPS_IP_REFILL: '1s',
  DAILYREPS_REGISTER_PER_HOUR: '100000',
  DAILYREPS_NEW_USERS_PER_IP_PER_DAY: '100000',
  DAILYREPS_SAVES_PER_HOUR: '100000',
  DAILYREPS_SAVES_PER_DAY: '100000',
  DAILYREPS_FAILED_LOOKUP_BURST: '100000',
  DAILYREPS_FAILED_LOOKUP_REFILL: '1s',
};

export const scratch = mkdtempSync(join(tmpdir(), 'dailyreps-web-'));
const cleanups = [];

/** Registers fn to run at cleanUp(), newest first. */
export function onCleanUp(fn) {
  cleanups.push(fn);
}

/** Stops everything the tests started and removes the scratch directory. */
export async function cleanUp() {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch {
      // keep cleaning up the rest
    }
  }
  if (!process.env.KEEP_TEST_FILES) rmSync(scratch, { recursive: true, force: true });
}

export const sha256Hex = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
export const uniqueName = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Processes

export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export async function serverBinary() {
  const prebuilt = process.env.DAILYREPS_BACKUP_BIN;
  if (prebuilt) {
    assert.ok(existsSync(prebuilt), `DAILYREPS_BACKUP_BIN=${prebuilt} does not exist`);
    return prebuilt;
  }
  const out = join(scratch, 'dailyreps-backup');
  await promisify(execFile)('go', ['build', '-o', out, '.'], {
    cwd: repoRoot,
    env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN || 'go1.27.3' },
    maxBuffer: 16 << 20,
  });
  return out;
}

/**
 * Starts `serve` on a free port with a fresh data dir; resolves once /health
 * says 200. The server's environment is built from nothing, so settings of
 * the machine running the tests cannot leak in. Unless `bare`, it gets a
 * pepper and no free-disk minimum (the scratch disk may be small) besides env.
 */
export async function startBackupServer(bin, name, env = {}, { bare = false } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(scratch, `data-${name}-`));
  const logPath = join(scratch, `server-${name}.log`);
  const log = createWriteStream(logPath);
  const defaults = bare ? {} : { DAILYREPS_PEPPER: randomBytes(32).toString('hex'), DAILYREPS_MIN_FREE_DISK_BYTES: '0' };
  const proc = spawn(bin, ['serve', '--http', `127.0.0.1:${port}`, '--dir', dataDir], {
    env: { PATH: process.env.PATH, HOME: dataDir, ...defaults, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  let exited = null;
  proc.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    dataDir,
    logPath,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
  onCleanUp(() => server.stop());

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(`server ${name} exited (${JSON.stringify(exited)}) before answering /health:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`server ${name} did not answer /health with 200 within 60 s:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
    }
    await sleep(200);
  }
}

/**
 * A bare page on its own origin, to make cross-origin requests from. It also
 * serves the client module, as an app that vendors the file would.
 */
export async function startOriginServer(port) {
  const moduleSource = readFileSync(join(repoRoot, 'pb_public', 'dailyreps-backup.js'));
  const srv = createServer((req, res) => {
    if (req.url === '/dailyreps-backup.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(moduleSource);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('<!doctype html><html><head><title>other origin</title></head><body><p>other origin</p></body></html>');
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  onCleanUp(() => new Promise((r) => srv.close(r)));
  return `http://127.0.0.1:${port}`;
}

export async function api(server, method, path, body, headers = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// ---------------------------------------------------------------------------
// Browser and page

/** Debian's Chromium with a fresh profile, closed at cleanUp(). */
export async function launchBrowser() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (run-tests.sh does this)`);
  const context = await chromium.launchPersistentContext(mkdtempSync(join(scratch, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
    acceptDownloads: true,
  });
  onCleanUp(() => context.close());
  return context;
}

/**
 * Opens the page a server serves at / and waits until it has started. A
 * server that speaks protocol v2 opens on the account view; the tests of
 * backups without an account ask for that view (#v1), which is the whole
 * page on a server that speaks only v1.
 */
export async function openPage(context, server, { initScript, view = 'v1' } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (msg) => {
    // Failed API calls log "Failed to load resource" by design; anything else
    // at error level (CSP violations, module errors) is a defect of the page.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
  });
  page.problems = problems;
  if (initScript) await page.addInitScript(initScript);
  await page.goto(`${server.url}/${view === 'v1' ? '#v1' : ''}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  return page;
}

export async function fillCredentials(page, username, password) {
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
}

/**
 * Clicks a control and waits until the action it starts has finished.
 * Register sits behind the "Register a new username" choice, which is made
 * first when needed.
 */
export async function act(page, testId) {
  if (testId === 'register' && !(await page.getByTestId('register').isVisible())) {
    await page.getByTestId('mode-register').check();
  }
  await page.getByTestId(testId).click();
  await page.waitForSelector('body[aria-busy="false"]', { timeout: 60_000 });
  return outcome(page);
}

export async function outcome(page) {
  return page.evaluate(() => {
    // The page shows one message at a time, in the card of the last action.
    const status = document.querySelector('[data-testid="status"]');
    const error = document.querySelector('[data-testid="error"]');
    return {
      status: status ? status.textContent : null,
      error: error ? error.textContent : null,
      code: error ? error.dataset.code : null,
    };
  });
}

/** The exact text behind the page's Download link, which is the decrypted backup. */
export async function downloadText(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
  return readFileSync(await download.path(), 'utf8');
}

export function assertOk(result, pattern) {
  assert.equal(result.error, null, `unexpected error: ${result.error}`);
  assert.match(result.status ?? '', pattern);
}

export function assertError(result, code, pattern) {
  assert.equal(result.code, code, `expected ${code}, got ${JSON.stringify(result)}`);
  assert.match(result.error, pattern);
}
