// End-to-end checks of the reference page against the real server binary, in
// Debian's Chromium driven by playwright-core. The shared machinery is in
// harness.mjs.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';

import {
  RELAXED_LIMITS,
  act,
  api,
  assertError,
  assertOk,
  cleanUp,
  downloadText,
  fillCredentials,
  freePort,
  outcome,
  launchBrowser,
  openPage as openPageIn,
  repoRoot,
  scratch,
  serverBinary,
  sha256Hex,
  sleep,
  startBackupServer,
  startOriginServer,
  uniqueName,
} from './harness.mjs';

let bin;
let main;
let allowedOrigin;
let deniedOrigin;
let context;

const openPage = (server, options) => openPageIn(context, server, options);

before(async () => {
  bin = await serverBinary();
  const [allowedPort, deniedPort] = [await freePort(), await freePort()];
  allowedOrigin = await startOriginServer(allowedPort);
  deniedOrigin = await startOriginServer(deniedPort);
  main = await startBackupServer(bin, 'main', { ...RELAXED_LIMITS, DAILYREPS_ALLOWED_ORIGINS: allowedOrigin });
  context = await launchBrowser();
}, { timeout: 15 * 60_000 });

after(cleanUp);

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
    assert.equal(await downloadText(page2), JSON.stringify(doc2), 'the download is the exact saved text');

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

    // No backup under this key: the page asks before starting one, then the
    // server refuses the unregistered name.
    await page.getByTestId('document').fill('{"a":1}');
    await page.getByTestId('save').click();
    await page.getByTestId('confirm-new-backup').click();
    await page.waitForSelector('body[aria-busy="false"]');
    assertError(await outcome(page), 'not_found', /not registered yet/);

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
    // The page first asks whether this key has a backup: it has.
    await page.route('**/api/backup/versions?*', (route) =>
      route.fulfill({ contentType: 'application/json', body: '{"versions":[{"version":1,"updatedAt":"2025-01-01T00:00:00.000Z","size":60}]}' }));
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

// The README promises that `go run . serve` works with nothing configured:
// no pepper (it generates one), no allowed origins, no signing secret and the
// default rate limits. This server gets no DAILYREPS_* variable at all.
describe('a server started with nothing configured', () => {
  let bare;

  before(async () => {
    bare = await startBackupServer(bin, 'bare', {}, { bare: true });
  }, { timeout: 120_000 });

  test('it generated its own pepper, readable by its owner only', () => {
    const { mode } = statSync(join(bare.dataDir, 'dailyreps.pepper'));
    assert.equal(mode & 0o777, 0o600);
  });

  test('the page works end to end (and is photographed for the docs)', async () => {
    const page = await openPage(bare);
    assert.equal(await page.getByTestId('signing-secret').isVisible(), false, 'no secret field without a secret');
    assert.equal(await page.getByTestId('mode-register').isVisible(), true, 'registration is open');
    assert.match(await page.getByTestId('server-info').textContent(), /Keeps your last 10 versions/);

    // The default limits allow a burst of 5 API calls, then one per 2 s: a
    // person clicking through meets them, waits as told, and carries on.
    const patiently = async (testId) => {
      for (let attempt = 0; ; attempt++) {
        const result = await act(page, testId);
        if (result.code !== 'rate_limited' || attempt === 10) return result;
        const seconds = Number(/wait (\d+) seconds?/.exec(result.error)?.[1] ?? 2);
        await sleep(seconds * 1000);
      }
    };

    const exported = {
      app: 'dailyreps',
      streak: 14,
      workouts: [
        { day: '2025-06-01', exercise: 'push-ups', reps: [20, 18, 15] },
        { day: '2025-06-01', exercise: 'squats', reps: [25, 25, 20] },
        { day: '2025-06-02', exercise: 'pull-ups', reps: [8, 7, 6] },
      ],
    };
    await fillCredentials(page, 'alex', 'correct horse battery staple');
    assertOk(await patiently('register'), /Registered/);
    await page.getByTestId('document').fill(JSON.stringify({ ...exported, streak: 13, workouts: exported.workouts.slice(0, 2) }));
    assertOk(await patiently('save'), /Backed up as version 1\b/);
    // As the app exports it: indented.
    const exportedText = JSON.stringify(exported, null, 2);
    await page.getByTestId('document').fill(exportedText);
    assertOk(await patiently('save'), /Backed up as version 2\b/);
    assertOk(await patiently('restore'), /Restored the latest backup \(version 2\)/);
    assertOk(await patiently('versions-load'), /2 versions stored/);

    let types = [];
    for (const deadline = Date.now() + 15_000; ; await sleep(500)) {
      assertOk(await patiently('activity-load'), /activity record/);
      types = await page.locator('[data-testid="activity-list"] tr').evaluateAll((rows) => rows.map((r) => r.dataset.type));
      if ((types.includes('saved') && types.includes('restored')) || Date.now() > deadline) break;
    }
    assert.ok(types.includes('saved') && types.includes('restored'), `activity lists ${types}`);

    // End on a restore, with the versions and the activity still listed.
    assertOk(await patiently('restore'), /Restored the latest backup \(version 2\)/);
    assert.deepEqual(JSON.parse(await page.getByTestId('restored').inputValue()), exported);
    assert.equal(await downloadText(page), exportedText);
    assert.equal(await page.getByTestId('versions-table').isVisible(), true);
    assert.equal(await page.getByTestId('activity-table').isVisible(), true);
    assert.deepEqual(page.problems, []);

    // UPDATE_SCREENSHOT=1 web/run-tests.sh refreshes the one in the docs.
    const shot = process.env.UPDATE_SCREENSHOT ? join(repoRoot, 'docs', 'screenshot.png') : join(scratch, 'screenshot.png');
    // From the top, so the sticky status banner sits in its place in the flow.
    await page.evaluate(() => {
      window.scrollTo(0, 0);
      document.querySelector('[data-testid="document"]').scrollTop = 0;
    });
    await page.screenshot({ path: shot, fullPage: true });
    await page.close();
  });

  test('the page tells how long to wait when rate limited', async () => {
    const page = await openPage(bare);
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
