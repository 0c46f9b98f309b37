// End-to-end checks of the reference page against the real server binary, in
// Debian's Chromium driven by playwright-core. Everything listens on 127.0.0.1.
//
// DAILYREPS_BACKUP_BIN may name a prebuilt server binary (run-tests.sh builds
// one); otherwise the binary is built from the repository into a temp dir.
// CHROMIUM_PATH overrides /usr/bin/chromium.

import { test, describe, before, after } from 'node:test';
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
const repoRoot = resolve(here, '..', '..');
const webDir = resolve(here, '..');
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
const RELAXED_LIMITS = {
  DAILYREPS_IP_BURST: '100000',
  DAILYREPS_IP_REFILL: '1s',
  DAILYREPS_REGISTER_PER_HOUR: '100000',
  DAILYREPS_NEW_USERS_PER_IP_PER_DAY: '100000',
  DAILYREPS_SAVES_PER_HOUR: '100000',
  DAILYREPS_SAVES_PER_DAY: '100000',
  DAILYREPS_FAILED_LOOKUP_BURST: '100000',
  DAILYREPS_FAILED_LOOKUP_REFILL: '1s',
};

const scratch = mkdtempSync(join(tmpdir(), 'dailyreps-web-'));
const cleanups = [];

const sha256Hex = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
const uniqueName = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Processes

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function serverBinary() {
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

/** Starts `serve` on a free port with a fresh data dir; resolves once /health says 200. */
async function startBackupServer(bin, name, env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(scratch, `data-${name}-`));
  const logPath = join(scratch, `server-${name}.log`);
  const log = createWriteStream(logPath);
  const proc = spawn(bin, ['serve', '--http', `127.0.0.1:${port}`, '--dir', dataDir], {
    env: {
      PATH: process.env.PATH,
      HOME: dataDir,
      DAILYREPS_PEPPER: randomBytes(32).toString('hex'),
      // The scratch disk may be small; /health must not report it as full.
      DAILYREPS_MIN_FREE_DISK_BYTES: '0',
      ...env,
    },
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
  cleanups.push(() => server.stop());

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
async function startOriginServer(port) {
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
  cleanups.push(() => new Promise((r) => srv.close(r)));
  return `http://127.0.0.1:${port}`;
}

async function api(server, method, path, body, headers = {}) {
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
// Page helpers

let context;

async function openPage(server, { initScript } = {}) {
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
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  return page;
}

async function fillCredentials(page, username, password) {
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
}

/** Clicks a control and waits until the action it starts has finished. */
async function act(page, testId) {
  await page.getByTestId(testId).click();
  await page.waitForSelector('body[aria-busy="false"]', { timeout: 60_000 });
  return outcome(page);
}

async function outcome(page) {
  return page.evaluate(() => {
    const status = document.querySelector('[data-testid="status"]');
    const error = document.querySelector('[data-testid="error"]');
    return {
      status: status.hidden ? null : status.textContent,
      error: error.hidden ? null : error.textContent,
      code: error.hidden ? null : error.dataset.code,
    };
  });
}

function assertOk(result, pattern) {
  assert.equal(result.error, null, `unexpected error: ${result.error}`);
  assert.match(result.status ?? '', pattern);
}

function assertError(result, code, pattern) {
  assert.equal(result.code, code, `expected ${code}, got ${JSON.stringify(result)}`);
  assert.match(result.error, pattern);
}

// ---------------------------------------------------------------------------

let bin;
let main;
let allowedOrigin;
let deniedOrigin;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (run-tests.sh does this)`);
  bin = await serverBinary();
  const [allowedPort, deniedPort] = [await freePort(), await freePort()];
  allowedOrigin = await startOriginServer(allowedPort);
  deniedOrigin = await startOriginServer(deniedPort);
  main = await startBackupServer(bin, 'main', { ...RELAXED_LIMITS, DAILYREPS_ALLOWED_ORIGINS: allowedOrigin });

  context = await chromium.launchPersistentContext(mkdtempSync(join(scratch, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
    acceptDownloads: true,
  });
  cleanups.push(() => context.close());
}, { timeout: 15 * 60_000 });

after(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // keep cleaning up the rest
    }
  }
  if (!process.env.KEEP_TEST_FILES) rmSync(scratch, { recursive: true, force: true });
});

describe('reference page against the server', () => {
  test('the page loads under its CSP and explains where encryption happens', async () => {
    const page = await openPage(main);
    const statement = await page.getByTestId('privacy-statement').textContent();
    assert.match(statement, /encrypted in this browser/);
    assert.match(statement, /never sees your password or your document/);
    assert.equal(await page.getByTestId('signing-secret').isVisible(), false, 'no secret field when signatures are off');
    assert.equal(await page.getByTestId('error').isVisible(), false);
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('register, back up, restore, versions, activity, wrong password, delete', async () => {
    const page = await openPage(main);
    const username = uniqueName('Athlete');
    const password = 'correct horse battery staple';
    const doc1 = { app: 'dailyreps', workouts: [{ day: '2025-01-01', exercise: 'push-ups', reps: [20, 18, 15] }], streak: 1 };
    const doc2 = { ...doc1, streak: 2, note: 'Grüße 💪' };

    await fillCredentials(page, username, password);
    const phases = [];
    await page.exposeFunction('recordPhase', (p) => phases.push(p));
    await page.evaluate(() => {
      new MutationObserver(() => {
        const phase = document.querySelector('[data-testid="progress"]').dataset.phase;
        if (phase) window.recordPhase(phase);
      }).observe(document.querySelector('[data-testid="progress"]'), { attributes: true });
    });

    assertOk(await act(page, 'register'), /Registered/);
    assert.ok(phases.includes('deriving'), `progress shown during key derivation: ${phases}`);

    await page.getByTestId('document').fill(JSON.stringify(doc1));
    assertOk(await act(page, 'save'), /Backed up as version 1\b/);
    assert.ok(phases.includes('uploading'), `progress shown during upload: ${phases}`);

    await page.getByTestId('document').fill(JSON.stringify(doc2));
    assertOk(await act(page, 'save'), /Backed up as version 2\b/);

    // A fresh page forgets the key: restore derives it again from the password.
    await page.close();
    const page2 = await openPage(main);
    await fillCredentials(page2, username, password);
    assertOk(await act(page2, 'restore'), /Restored the latest backup \(version 2\)/);
    assert.deepEqual(JSON.parse(await page2.getByTestId('restored').inputValue()), doc2);
    // From the top, so the sticky status banner sits in its place in the flow.
    await page2.evaluate(() => window.scrollTo(0, 0));
    await page2.screenshot({ path: join(webDir, 'screenshot.png'), fullPage: true });

    const [download] = await Promise.all([page2.waitForEvent('download'), page2.getByTestId('download').click()]);
    assert.equal(readFileSync(await download.path(), 'utf8'), JSON.stringify(doc2), 'the download is the exact saved text');

    const versions = await act(page2, 'versions-load');
    assertOk(versions, /2 versions stored/);
    const listed = await page2.locator('[data-testid="versions-list"] tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.version)));
    assert.deepEqual(listed, [2, 1]);
    assertOk(await act(page2, 'restore-version-1'), /Restored version 1/);
    assert.deepEqual(JSON.parse(await page2.getByTestId('restored').inputValue()), doc1);

    await fillCredentials(page2, username, 'wrong password');
    const wrong = await act(page2, 'restore');
    assertError(wrong, 'not_found', /No backup found/);
    assert.equal(await page2.getByTestId('restored').isVisible(), false, 'nothing is shown after a failed restore');

    await fillCredentials(page2, username, password);
    // The server writes access events in batches about once a second, so the
    // latest restore and failed attempt may take a moment to be listed.
    const wanted = ['saved', 'restored', 'failed_attempt'];
    let types = [];
    for (const deadline = Date.now() + 10_000; ; await sleep(500)) {
      assertOk(await act(page2, 'activity-load'), /activity record/);
      types = await page2.locator('[data-testid="activity-list"] tr').evaluateAll((rows) => rows.map((r) => r.dataset.type));
      if (wanted.every((t) => types.includes(t)) || Date.now() > deadline) break;
    }
    for (const t of wanted) assert.ok(types.includes(t), `activity lists ${t}: ${types}`);

    assert.equal(await page2.getByTestId('delete').isDisabled(), true, 'delete needs the confirmation first');
    await page2.getByTestId('delete-confirm').check();
    assertOk(await act(page2, 'delete'), /deleted/);
    assertError(await act(page2, 'restore'), 'not_found', /No backup found/);

    const userId = sha256Hex(username.toLowerCase());
    const storageKey = sha256Hex(userId + password);
    const after = await api(main, 'GET', `/api/backup?userId=${userId}&storageKey=${storageKey}`);
    assert.equal(after.status, 404, 'the server no longer has the backup');
    assert.deepEqual(page2.problems, []);
    await page2.close();
  });

  test('already registered, and saving before registering', async () => {
    const page = await openPage(main);
    const username = uniqueName('taken');
    await fillCredentials(page, username, 'first password');
    // An empty document is refused in the page before any request.
    assertError(await act(page, 'save'), 'input', /Paste a JSON document/);

    await page.getByTestId('document').fill('{"a":1}');
    assertError(await act(page, 'save'), 'not_found', /not registered yet/);

    assertOk(await act(page, 'register'), /Registered/);
    await fillCredentials(page, username.toUpperCase(), 'another password');
    assertError(await act(page, 'register'), 'already_registered', /already registered/);
    await page.close();
  });

  test('a file picked from disk is backed up and restored', async () => {
    const page = await openPage(main);
    const exportDoc = { version: 3, exportedAt: '2025-02-01T10:00:00.000Z', workouts: Array.from({ length: 200 }, (_, i) => ({ day: i, reps: [i, i + 1] })) };
    const text = JSON.stringify(exportDoc, null, 2);
    await page.getByTestId('file').setInputFiles({ name: 'dailyreps-export.json', mimeType: 'application/json', buffer: Buffer.from(text) });
    await page.waitForFunction(() => document.querySelector('[data-testid="document"]').value.length > 0);
    assert.equal(await page.getByTestId('document').inputValue(), text);

    await fillCredentials(page, uniqueName('filer'), 'pw-for-file');
    assertOk(await act(page, 'register'), /Registered/);
    assertOk(await act(page, 'save'), /version 1/);
    assertOk(await act(page, 'restore'), /Restored/);
    assert.deepEqual(JSON.parse(await page.getByTestId('restored').inputValue()), exportDoc);
    await page.close();
  });

  test('invalid JSON is refused before anything is sent', async () => {
    const page = await openPage(main);
    await fillCredentials(page, uniqueName('typo'), 'pw');
    let sent = 0;
    page.on('request', (r) => {
      if (r.url().includes('/api/backup')) sent++;
    });
    await page.getByTestId('document').fill('{"workouts": [1, 2,');
    assertError(await act(page, 'save'), 'input', /not valid JSON/);
    assert.equal(sent, 0);
    await page.close();
  });

  test('each API failure has a clear message', async () => {
    const page = await openPage(main);
    await fillCredentials(page, uniqueName('errors'), 'pw');
    await page.getByTestId('document').fill('{"a":1}');
    const scenarios = [
      [{ status: 413, body: '{"error":"Backup too large."}' }, 'too_large', /too large/],
      [{ status: 429, headers: { 'Retry-After': '42' }, body: '{"error":"Too many requests."}' }, 'rate_limited', /wait 42 seconds/],
      [{ status: 503, body: '{"error":"Service unavailable."}' }, 'unavailable', /temporarily unavailable/],
      [{ status: 401, headers: { 'X-Server-Time': String(Math.floor(Date.now() / 1000) + 3600) }, body: '{"error":"Timestamp out of range."}' }, 'unauthorized', /clock is off/],
      [{ status: 401, body: '{"error":"Invalid signature."}' }, 'unauthorized', /signing secret/],
      [{ status: 412, headers: { ETag: '"9"' }, body: '{"error":"Version mismatch."}' }, 'stale', /changed on the server/],
      ['abort', 'network', /Could not reach the backup server/],
    ];
    for (const [reply, code, pattern] of scenarios) {
      await page.route('**/api/backup', (route) => (reply === 'abort' ? route.abort('connectionrefused') : route.fulfill({ contentType: 'application/json', ...reply })));
      assertError(await act(page, 'save'), code, pattern);
      await page.unroute('**/api/backup');
    }
    await page.close();
  });
});

describe('CORS', () => {
  test('an allowed origin can call the API', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedOrigin}/`);
    const userId = sha256Hex(uniqueName('cors-ok'));
    const result = await page.evaluate(async ({ apiUrl, userId }) => {
      const info = await fetch(`${apiUrl}/api/info`).then((r) => r.json());
      const reg = await fetch(`${apiUrl}/api/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
      return { registration: info.registration, status: reg.status, body: await reg.json() };
    }, { apiUrl: main.url, userId });
    assert.equal(typeof result.registration, 'string');
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { success: true });
    assert.equal((await api(main, 'POST', '/api/register', { userId })).status, 409, 'the cross-origin register was applied');
    await page.close();
  });

  test('an app on an allowed origin can use the client module end to end', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedOrigin}/`);
    const doc = { workouts: [{ day: 1, reps: [5, 5, 5] }], note: 'cross-origin' };
    const result = await page.evaluate(async ({ apiUrl, username, doc }) => {
      const m = await import('/dailyreps-backup.js');
      const acct = await m.createClient({ baseUrl: apiUrl }).account(username, 'pw');
      await acct.register();
      const saved = await acct.save(doc);
      const stale = await acct.save(doc, { ifMatch: saved.version + 5 }).catch((e) => ({ code: e.code, currentVersion: e.currentVersion }));
      const restored = await acct.restore();
      const versions = await acct.versions();
      await acct.delete();
      return { saved, stale, restored: restored.json(), versions: versions.map((v) => v.version) };
    }, { apiUrl: main.url, username: uniqueName('vendored'), doc });
    assert.equal(result.saved.version, 1);
    assert.deepEqual(result.restored, doc);
    assert.deepEqual(result.versions, [1]);
    // The ETag of a 412 is only readable cross-origin if the server exposes it.
    assert.deepEqual(result.stale, { code: 'stale', currentVersion: 1 });
    await page.close();
  });

  test('an origin not on the list is refused and cannot change state', async () => {
    const page = await context.newPage();
    await page.goto(`${deniedOrigin}/`);
    const preflighted = sha256Hex(uniqueName('cors-denied-json'));
    const simple = sha256Hex(uniqueName('cors-denied-simple'));
    const result = await page.evaluate(async ({ apiUrl, preflighted, simple }) => {
      const attempt = async (fn) => {
        try {
          const r = await fn();
          return { ok: true, status: r.status };
        } catch (e) {
          return { ok: false, name: e.name };
        }
      };
      return {
        info: await attempt(() => fetch(`${apiUrl}/api/info`)),
        json: await attempt(() => fetch(`${apiUrl}/api/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId: preflighted }) })),
        // A "simple" request skips the preflight and does reach the server;
        // only the server's refusal of non-JSON bodies keeps it from acting.
        simple: await attempt(() => fetch(`${apiUrl}/api/register`, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ userId: simple }) })),
      };
    }, { apiUrl: main.url, preflighted, simple });
    assert.deepEqual(result.info, { ok: false, name: 'TypeError' }, 'reading the API from a foreign origin fails');
    assert.deepEqual(result.json, { ok: false, name: 'TypeError' }, 'the JSON POST is blocked');
    assert.equal(result.simple.ok, true, 'a no-cors request resolves to an opaque response');
    assert.equal((await api(main, 'POST', '/api/register', { userId: preflighted })).status, 200, 'the blocked JSON register was not applied');
    assert.equal((await api(main, 'POST', '/api/register', { userId: simple })).status, 200, 'the text/plain register was not applied');
    await page.close();
  });
});

describe('server with request signing', () => {
  const secret = `signing-${randomBytes(16).toString('hex')}`;
  let signed;

  before(async () => {
    signed = await startBackupServer(bin, 'signed', {
      ...RELAXED_LIMITS,
      DAILYREPS_HMAC_SECRET: secret,
      DAILYREPS_ALLOWED_ORIGINS: allowedOrigin,
    });
  }, { timeout: 120_000 });

  test('the page asks for the secret and works with it', async () => {
    const page = await openPage(signed);
    assert.equal(await page.getByTestId('signing-secret').isVisible(), true, 'the page offers a secret field');
    const username = uniqueName('signer');
    await fillCredentials(page, username, 'pw');
    assertError(await act(page, 'register'), 'input', /signing secret/);

    await page.getByTestId('signing-secret').fill('not-the-right-secret');
    assertError(await act(page, 'register'), 'unauthorized', /signing secret is missing or wrong/);

    await page.getByTestId('signing-secret').fill(secret);
    assertOk(await act(page, 'register'), /Registered/);
    await page.getByTestId('document').fill('{"signed":true}');
    assertOk(await act(page, 'save'), /version 1/);
    assertOk(await act(page, 'restore'), /Restored/);
    assert.deepEqual(JSON.parse(await page.getByTestId('restored').inputValue()), { signed: true });
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('a device clock an hour slow is corrected from X-Server-Time', async () => {
    const page = await openPage(signed, {
      initScript: () => {
        const realNow = Date.now.bind(Date);
        Date.now = () => realNow() - 3600_000;
      },
    });
    const statuses = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/register') statuses.push(r.status());
    });
    await page.getByTestId('signing-secret').fill(secret);
    await fillCredentials(page, uniqueName('slowclock'), 'pw');
    assertOk(await act(page, 'register'), /Registered/);
    assert.deepEqual(statuses, [401, 200], 'one refusal with the server time, then a corrected retry');
    await page.close();
  });

  test('clock correction works cross-origin (X-Server-Time is readable)', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedOrigin}/`);
    const result = await page.evaluate(async ({ apiUrl, secret, username }) => {
      const m = await import('/dailyreps-backup.js');
      const client = m.createClient({ baseUrl: apiUrl, signingSecret: secret, now: () => Date.now() + 2 * 3600_000 });
      const acct = await client.account(username, 'pw');
      await acct.register();
      return { offset: client.clockOffset };
    }, { apiUrl: signed.url, secret, username: uniqueName('xo-clock') });
    assert.ok(Math.abs(result.offset + 7200) <= 5, `learned offset ${result.offset} s`);
    await page.close();
  });

  test('repeating the same signed request at once is not refused as a replay', async () => {
    const page = await context.newPage();
    await page.goto(`${allowedOrigin}/`);
    const result = await page.evaluate(async ({ apiUrl, secret, username }) => {
      const m = await import('/dailyreps-backup.js');
      const acct = await m.createClient({ baseUrl: apiUrl, signingSecret: secret }).account(username, 'pw');
      await acct.register();
      await acct.save('{"n":1}');
      const first = await acct.restore();
      const second = await acct.restore();
      const both = await Promise.all([acct.versions(), acct.versions()]);
      const again = await acct.register().catch((e) => e.code);
      return { texts: [first.text, second.text], counts: both.map((v) => v.length), again };
    }, { apiUrl: signed.url, secret, username: uniqueName('repeat') });
    assert.deepEqual(result, { texts: ['{"n":1}', '{"n":1}'], counts: [1, 1], again: 'already_registered' });
    await page.close();
  });

  test('unsigned API calls are refused', async () => {
    const res = await api(signed, 'POST', '/api/register', { userId: sha256Hex(uniqueName('unsigned')) });
    assert.equal(res.status, 401);
    assert.equal(typeof res.json?.error, 'string');
  });
});

describe('server with default rate limits', () => {
  let limited;

  before(async () => {
    limited = await startBackupServer(bin, 'limited', {});
  }, { timeout: 120_000 });

  test('the page tells how long to wait when rate limited', async () => {
    const page = await openPage(limited);
    await fillCredentials(page, uniqueName('hammer'), 'pw');
    let result;
    for (let i = 0; i < 30; i++) {
      result = await act(page, 'restore');
      if (result.code === 'rate_limited') break;
      assert.equal(result.code, 'not_found', `before the limit: ${JSON.stringify(result)}`);
    }
    assertError(result, 'rate_limited', /Please wait \d+ (second|minute)s? and try again/);
    await page.close();
  });
});
