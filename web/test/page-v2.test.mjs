// The page's account view (protocol v2) as a person uses it, in Chromium
// against the real server: every flow (create an account with its recovery
// code, log in, save, restore, versions, change the password, recover,
// upgrade a backup made without an account, delete, log out), what a mistyped
// password or an ended session does, axe-core on every view, and the main
// flows by keyboard alone. Accounts made "on another device" use the same
// module in Node.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { createClient } from '../../pb_public/dailyreps-backup.js';
import { createClientV2 } from '../../pb_public/dailyreps-v2.js';
import {
  RELAXED_LIMITS,
  act,
  api,
  assertError,
  assertOk,
  cleanUp,
  launchBrowser,
  openPage as openPageIn,
  outcome,
  repoRoot,
  serverBinary,
  startBackupServer,
  uniqueName,
} from './harness.mjs';

const artifacts = join(repoRoot, 'web', 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// Sessions on this server end quickly, for the expiry test.
const SHORT_SESSION_SECONDS = 12;
// The limited server's cap on a stored version, small enough to cross quickly.
const MAX_BACKUP_BYTES = 65536;
// The largest compressed document whose envelope {"v":2,"nonce":"<16>","ct":"<base64 of
// document + 16-byte tag>","z":"gzip"} fits MAX_BACKUP_BYTES.
const MAX_COMPRESSED = Math.floor((MAX_BACKUP_BYTES - 53) / 4) * 3 - 16;

let main;
let short;
let limited;
let context;

const openPage = (server = main) => openPageIn(context, server, { view: 'account' });
const shoot = (page, name) => page.screenshot({ path: join(artifacts, `v2-${name}.png`), fullPage: true });

before(async () => {
  const bin = await serverBinary();
  main = await startBackupServer(bin, 'page-v2', RELAXED_LIMITS);
  short = await startBackupServer(bin, 'page-v2-short', { ...RELAXED_LIMITS, DAILYREPS_SESSION_LIFETIME: `${SHORT_SESSION_SECONDS}s` });
  limited = await startBackupServer(bin, 'page-v2-limited', { ...RELAXED_LIMITS, DAILYREPS_MAX_BACKUP_BYTES: String(MAX_BACKUP_BYTES) });
  context = await launchBrowser();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: main.url });
}, { timeout: 15 * 60_000 });

after(cleanUp);

/** Another device: the same module in Node, with a memory of its own. */
const device = (server = main) => createClientV2({ baseUrl: server.url, memory: new Map() });

/** Rows in a table of the server's SQLite database, read beside the running server. */
function countRows(server, table) {
  const db = join(server.dataDir, 'data.db');
  return Number(execFileSync('sqlite3', ['-readonly', db, `SELECT count(*) FROM ${table}`], { encoding: 'utf8' }).trim());
}

const idle = (page) => page.waitForSelector('body[aria-busy="false"]', { timeout: 120_000 });
const visible = (page, testId) => page.getByTestId(testId).isVisible();
const focusedTestId = (page) => page.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.id ?? document.activeElement?.tagName);

async function chooseMode(page, mode) {
  await page.getByTestId(`v2-mode-${mode}`).check();
}

/** The groups the page asks for, as indexes into the code's groups. */
async function askedGroups(page) {
  const labels = await page.evaluate(() => [...document.querySelectorAll('#recovery-confirm-form label')].map((l) => l.textContent));
  return labels.map((l) => Number(/Group (\d) of 8/.exec(l)?.[1]) - 1);
}

/** Confirms the recovery code on screen as a person who saved it would; returns the code. */
async function confirmRecovery(page) {
  const code = (await page.getByTestId('recovery-code').textContent()).trim();
  assert.match(code, /^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/, `a recovery code is shown: ${code}`);
  await page.getByTestId('recovery-saved').click();
  const groups = code.split('-');
  const [a, b] = await askedGroups(page);
  await page.getByTestId('recovery-group-a').fill(groups[a].toLowerCase());
  await page.getByTestId('recovery-group-b').fill(groups[b]);
  await act(page, 'recovery-confirm');
  return code;
}

async function signUp(page, username, password) {
  await chooseMode(page, 'register');
  await page.getByTestId('register-username').fill(username);
  await page.getByTestId('register-password').fill(password);
  await page.getByTestId('register-repeat').fill(password);
  assertOk(await act(page, 'create-account'), /Account created/);
  const code = await confirmRecovery(page);
  assert.ok(await visible(page, 'signed-in'), 'signed in after confirming the code');
  return code;
}

async function logIn(page, username, password) {
  await chooseMode(page, 'login');
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  return act(page, 'login');
}

async function downloadOf(page, testId) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  return readFileSync(await download.path(), 'utf8');
}

/** The bearer tokens the page sends, newest last. */
function recordTokens(page) {
  const tokens = [];
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth?.startsWith('Bearer ') && tokens.at(-1) !== auth) tokens.push(auth);
  });
  return tokens;
}

/** Presses Tab until the element with this test id has the focus. */
async function tabTo(page, testId, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if ((await focusedTestId(page)) === testId) return;
  }
  assert.fail(`${testId} cannot be reached with the Tab key`);
}

async function axeCheck(page, state) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.deepEqual(
    violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe, ${state}`,
  );
}

describe('the account view (protocol v2)', () => {
  test('a new account shows its recovery code once and goes on only once the code is confirmed', async () => {
    const page = await openPage();
    const username = uniqueName('Reg');
    await chooseMode(page, 'register');
    assert.equal(await page.getByTestId('register-password').getAttribute('autocomplete'), 'new-password');
    assert.equal(await page.getByTestId('register-repeat').getAttribute('autocomplete'), 'new-password');
    assert.equal(await page.evaluate(() => document.querySelector('[data-testid="register-password"]').form?.id), 'register-form');

    // Two different passwords are refused before anything is derived or sent.
    await page.getByTestId('register-username').fill(username);
    await page.getByTestId('register-password').fill('first try');
    await page.getByTestId('register-repeat').fill('first trx');
    const differ = await act(page, 'create-account');
    assertError(differ, 'input', /differ/);
    assert.equal(await focusedTestId(page), 'register-repeat');

    await page.getByTestId('register-repeat').fill('first try');
    assertOk(await act(page, 'create-account'), /Account created.*recovery code/);
    await shoot(page, 'recovery-code');
    const code = (await page.getByTestId('recovery-code').textContent()).trim();
    assert.match(code, /^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
    assert.equal(await focusedTestId(page), 'recovery-heading', 'the focus goes to the code');
    assert.equal(await visible(page, 'signed-in'), false, 'nothing else until the code is confirmed');
    assert.equal(await visible(page, 'signin-card'), false);

    // Copy and download carry the code.
    await page.getByTestId('recovery-copy').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
    const file = await downloadOf(page, 'recovery-download');
    assert.ok(file.includes(code) && file.includes(username), `the file holds the code and the username:\n${file}`);

    // "I have saved it" hides the code and asks for two of its groups.
    await page.getByTestId('recovery-saved').click();
    assert.equal(await visible(page, 'recovery-code'), false, 'the code is hidden while it is typed back');
    assert.equal(await focusedTestId(page), 'recovery-group-a');
    const groups = code.split('-');
    const [a, b] = await askedGroups(page);
    assert.ok(a >= 0 && b > a && b < 8, `two different groups asked: ${a}, ${b}`);

    const empty = await act(page, 'recovery-confirm');
    assertError(empty, 'input', new RegExp(`group ${a + 1}`, 'i'));
    const wrongGroup = groups[a] === 'AAAA' ? 'BBBB' : 'AAAA';
    await page.getByTestId('recovery-group-a').fill(wrongGroup);
    await page.getByTestId('recovery-group-b').fill(groups[b]);
    const wrong = await act(page, 'recovery-confirm');
    assertError(wrong, 'input', new RegExp(`Group ${a + 1} does not match`));
    assert.equal(await page.getByTestId('recovery-group-a').getAttribute('aria-invalid'), 'true');
    assert.equal(await visible(page, 'signed-in'), false, 'a wrong group does not go on');

    // Shown again on request, then typed back as a person would: any case, O for 0.
    await page.getByTestId('recovery-show-again').click();
    assert.equal((await page.getByTestId('recovery-code').textContent()).trim(), code);
    await page.getByTestId('recovery-saved').click();
    await page.getByTestId('recovery-group-a').fill(groups[a].toLowerCase().replaceAll('0', 'o'));
    await page.getByTestId('recovery-group-b').fill(` ${groups[b]} `);
    assertOk(await act(page, 'recovery-confirm'), /account is ready/);
    assert.ok(await visible(page, 'signed-in'));
    await shoot(page, 'signed-in');

    // Shown once: the code is nowhere in the page any more.
    const leftovers = await page.evaluate((c) => {
      const found = [];
      if (document.documentElement.outerHTML.includes(c)) found.push('markup');
      for (const el of document.querySelectorAll('input, textarea')) if (el.value.toUpperCase().includes(c.slice(0, 9))) found.push(el.id);
      if (document.querySelector('[data-testid="recovery-download"]').hasAttribute('href')) found.push('download link');
      return found;
    }, code);
    assert.deepEqual(leftovers, []);

    // The code shown is the account's: another device recovers with it.
    const recovered = await device().recover(username, code, 'set elsewhere');
    assert.ok(recovered.session.accountId);
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('a mistyped password at login creates nothing and says so plainly', async () => {
    const username = uniqueName('Typo');
    const { session } = await device().register(username, 'Correct Horse');
    await session.save('{"mine":true}');
    const users = countRows(main, 'users');
    const backups = countRows(main, 'backups');

    const page = await openPage();
    const sent = [];
    page.on('request', (r) => sent.push(`${r.method()} ${new URL(r.url()).pathname}`));
    assert.equal(await page.getByTestId('login-password').getAttribute('autocomplete'), 'current-password');
    for (const [name, password] of [
      [username, 'correct horse'],
      [`${username}x`, 'Correct Horse'],
    ]) {
      const refused = await logIn(page, name, password);
      assertError(refused, 'wrong_password', /Wrong username or password/);
      assert.match(refused.error, /recovery code/);
      assert.equal(await visible(page, 'signed-in'), false, 'no way to save after a refused login');
      assert.equal(await page.getByTestId('login-password').inputValue(), '', 'the refused password is cleared');
      assert.equal(await focusedTestId(page), 'login-password');
    }
    await shoot(page, 'wrong-password');
    assert.equal(countRows(main, 'users'), users, 'no account was created');
    assert.equal(countRows(main, 'backups'), backups, 'no backup was created');
    assert.deepEqual(
      sent.filter((s) => /^(POST|PUT|DELETE) \/api\//.test(s) && !/\/api\/v2\/(prelogin|login)$/.test(s)),
      [],
      'a refused login sends nothing but the login itself',
    );

    assertOk(await logIn(page, username, 'Correct Horse'), /Logged in.*version 1/);
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('a taken name is said to be taken, with a way to log in instead', async () => {
    const username = uniqueName('Taken');
    await device().register(username, 'the owner');
    const users = countRows(main, 'users');
    const page = await openPage();
    await chooseMode(page, 'register');
    await page.getByTestId('register-username').fill(username.toUpperCase());
    await page.getByTestId('register-password').fill('a stranger');
    await page.getByTestId('register-repeat').fill('a stranger');
    const taken = await act(page, 'create-account');
    assertError(taken, 'name_taken', /taken.*log in instead/i);
    assert.equal(countRows(main, 'users'), users);
    await shoot(page, 'name-taken');

    await page.getByTestId('login-instead').click();
    assert.ok(await visible(page, 'login-form'));
    assert.equal(await page.getByTestId('login-username').inputValue(), username.toUpperCase());
    assert.equal(await focusedTestId(page), 'login-password');
    await page.getByTestId('login-password').fill('the owner');
    assertOk(await act(page, 'login'), /Logged in/);
    await page.close();
  });

  test('save, restore and versions keep the document exact', async () => {
    const page = await openPage();
    await signUp(page, uniqueName('Save'), 'pw for saving');
    const first = '{"workouts":[{"day":"Mon","reps":[10,8,6]}],"note":"caf\u00e9 \ud83c\udfcb"}';
    await page.getByTestId('v2-document').fill(first);
    assertOk(await act(page, 'v2-save'), /Backed up as version 1\b/);
    assert.equal(await focusedTestId(page), 'v2-save', 'the focus stays on Save');

    // Checked before anything is sent.
    await page.getByTestId('v2-document').fill('{"a": 1,}');
    assertError(await act(page, 'v2-save'), 'input', /not valid JSON.*line 1, column 9/);

    const second = JSON.stringify({ workouts: Array.from({ length: 50 }, (_, i) => ({ day: i, reps: [i, i + 1] })) });
    await page.getByTestId('v2-document').fill(second);
    assertOk(await act(page, 'v2-save'), /version 2\b/);

    assertOk(await act(page, 'v2-restore'), /Restored the latest backup \(version 2\)/);
    assert.equal(await downloadOf(page, 'v2-download'), second);
    assert.deepEqual(JSON.parse(await page.getByTestId('v2-restored').inputValue()), JSON.parse(second));

    assertOk(await act(page, 'v2-versions-load'), /2 versions stored/);
    const rows = await page.evaluate(() => [...document.querySelectorAll('[data-testid="v2-versions-list"] tr')].map((tr) => tr.dataset.version));
    assert.deepEqual(rows, ['2', '1']);
    assertOk(await act(page, 'v2-restore-version-1'), /Restored version 1\b/);
    assert.equal(await downloadOf(page, 'v2-download'), first);
    assertOk(await act(page, 'account-load'), /activity record/);
    assert.match(await page.getByTestId('usage').textContent(), /1 backup with 2 versions/);
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('the size limit counts after compression, and a document over it is refused before sending', async () => {
    const username = uniqueName('Limit');
    await device(limited).register(username, 'pw');
    const page = await openPage(limited);
    const puts = [];
    page.on('request', (r) => r.method() === 'PUT' && puts.push(r.url()));
    assertOk(await logIn(page, username, 'pw'), /Logged in/);
    const hint = await page.getByTestId('v2-size-limit').textContent();
    const figure = /(\d+(?:\.\d)? (?:B|KiB|MiB)) of compressed JSON/.exec(hint)?.[1];
    assert.ok(figure, `the hint names the limit: ${hint}`);
    assert.equal(figure, `${(Math.floor((MAX_COMPRESSED / 1024) * 10) / 10).toFixed(1)} KiB`);
    const limits = await page.getByTestId('v2-save-limits').textContent();
    assert.ok(limits.includes(`Each backup holds up to ${figure} of compressed JSON`), `the limits near Save: ${limits}`);

    // Three times the limit, but repetitive like a real export: it fits once compressed.
    const rows = Array.from({ length: 4000 }, (_, i) => ({ day: `2025-01-${(i % 28) + 1}`, exercise: 'squat', reps: [10, 8, 6] }));
    const compressible = JSON.stringify({ workouts: rows });
    assert.ok(compressible.length > 3 * MAX_BACKUP_BYTES);
    await page.getByTestId('v2-document').fill(compressible);
    assertOk(await act(page, 'v2-save'), /version 1\b/);
    assert.equal(puts.length, 1);

    // Random text does not compress: refused with the hint's figure, nothing sent.
    const noise = JSON.stringify({ noise: randomBytes(MAX_BACKUP_BYTES).toString('base64') });
    await page.getByTestId('v2-document').fill(noise);
    const refused = await act(page, 'v2-save');
    assertError(refused, 'too_large', new RegExp(`at most ${figure.replace('.', '\\.')} of compressed JSON.*Nothing was sent`));
    assert.equal(puts.length, 1, 'nothing was sent');

    // A picked file gets the same check and leaves the text area alone.
    await page.getByTestId('v2-document').fill('{"keep":true}');
    await page.getByTestId('v2-file').setInputFiles({ name: 'noise.json', mimeType: 'application/json', buffer: Buffer.from(noise) });
    await page.waitForSelector('[data-testid="error"]');
    assertError(await outcome(page), 'too_large', new RegExp(figure.replace('.', '\\.')));
    assert.equal(await page.getByTestId('v2-document').inputValue(), '{"keep":true}');
    assert.equal(await page.getByTestId('v2-file').getAttribute('aria-invalid'), 'true');
    await page.close();
  });

  test('restoring a large backup keeps the tab responsive and shows a preview', async () => {
    const username = uniqueName('Big');
    const { session } = await device().register(username, 'pw');
    const doc = JSON.stringify({
      workouts: Array.from({ length: 38_000 }, (_, i) => ({ day: `2025-${(i % 12) + 1}-${(i % 28) + 1}`, exercise: `exercise-${i % 40}`, reps: [i % 30, i % 25, i % 20], note: 'steady' })),
    });
    assert.ok(doc.length > 2.5 * 1024 * 1024, `document of ${doc.length} bytes`);
    await session.save(doc);

    const page = await openPage();
    assertOk(await logIn(page, username, 'pw'), /Logged in/);
    await page.evaluate(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask' });
    });
    const clickedAt = await page.evaluate(() => performance.now());
    const result = await act(page, 'v2-restore');
    assertOk(result, /Restored the latest backup/);
    const longTasks = await page.evaluate(() => window.__longTasks);
    const longest = Math.max(0, ...longTasks.filter((t) => t.start + t.duration >= clickedAt).map((t) => t.duration));
    console.log(`# large v2 restore: longest task ${Math.round(longest)} ms`);
    assert.ok(longest < 1000, `the main thread was blocked for ${Math.round(longest)} ms at a time`);
    const shown = await page.getByTestId('v2-restored').inputValue();
    assert.ok(shown.length < 64 * 1024, `a preview, not the whole document: ${shown.length} characters shown`);
    assert.match(await page.getByTestId('v2-restored-meta').textContent(), /only its beginning is shown.*Download/);
    assert.equal(await downloadOf(page, 'v2-download'), doc, 'the download is the exact document');
    await page.close();
  });

  test('a server that serves an old version as the newest is caught, and the page says so', async () => {
    const username = uniqueName('Rollback');
    const page = await openPage();
    await signUp(page, username, 'pw');
    for (const n of [1, 2]) {
      await page.getByTestId('v2-document').fill(`{"n":${n}}`);
      assertOk(await act(page, 'v2-save'), new RegExp(`version ${n}\\b`));
    }
    // The server (or someone in its place) answers "the newest" with the authentic version 1.
    await page.route(/\/api\/v2\/backups\/[0-9a-f]{32}$/, async (route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const old = await route.fetch({ url: `${route.request().url()}?version=1` });
      return route.fulfill({ response: old });
    });
    const warned = await act(page, 'v2-restore');
    await shoot(page, 'rollback');
    assertError(warned, 'rollback', /gave version 1 as the newest, but this browser has already seen version 2/);
    assert.deepEqual(JSON.parse(await page.getByTestId('v2-restored').inputValue()), { n: 1 }, 'the document shown is the one served, named as such');
    await page.unroute(/\/api\/v2\/backups\/[0-9a-f]{32}$/);
    assertOk(await act(page, 'v2-restore'), /Restored the latest backup \(version 2\)/);
    await page.close();
  });

  test('too many wrong passwords are slowed down, in plain words with the wait', async () => {
    const server = await startBackupServer(await serverBinary(), 'page-v2-lookups', {
      ...RELAXED_LIMITS,
      DAILYREPS_FAILED_LOOKUP_BURST: '2',
      DAILYREPS_FAILED_LOOKUP_REFILL: '1h',
    });
    const username = uniqueName('Guess');
    await device(server).register(username, 'right');
    const page = await openPage(server);
    let refused;
    for (let i = 0; i < 5 && refused?.code !== 'rate_limited'; i++) refused = await logIn(page, username, `guess ${i}`);
    assertError(refused, 'rate_limited', /^Too many attempts\. Please wait (\d+ seconds|\d+ minutes) and try again\.$/);
    await page.close();
  });

  test('a session ended elsewhere brings back the login form and keeps the document being edited', async () => {
    const username = uniqueName('Ended');
    const other = await device().register(username, 'before');
    const page = await openPage();
    assertOk(await logIn(page, username, 'before'), /Logged in/);
    const edited = '{"edited":"not saved yet"}';
    await page.getByTestId('v2-document').fill(edited);

    // Another device changes the password: every other session ends.
    await other.session.changePassword('before', 'after');
    const ended = await act(page, 'v2-save');
    assertError(ended, 'auth', /session has ended.*document you were editing is kept/);
    assert.ok(await visible(page, 'login-form'), 'the login form is back');
    assert.equal(await page.getByTestId('login-username').inputValue(), username);
    assert.equal(await focusedTestId(page), 'login-password');
    await shoot(page, 'session-ended');

    assertOk(await logIn(page, username, 'after'), /Logged in again/);
    assert.equal(await page.getByTestId('v2-document').inputValue(), edited, 'the document survived');
    assertOk(await act(page, 'v2-save'), /version 1\b/);
    const { text } = await other.session.restore();
    assert.equal(text, edited);
    await page.close();
  });

  test('a session that expires brings back the login form by itself, the document kept', async () => {
    const username = uniqueName('Expiry');
    await device(short).register(username, 'pw');
    const page = await openPage(short);
    const at = Date.now();
    assertOk(await logIn(page, username, 'pw'), /Logged in/);
    assert.match(await page.getByTestId('session-info').textContent(), /until/);
    await page.getByTestId('v2-document').fill('{"typed":"during the session"}');
    await page.waitForSelector('[data-testid="login-form"]:not([hidden])', { timeout: (SHORT_SESSION_SECONDS + 20) * 1000 });
    assert.ok(Date.now() - at >= (SHORT_SESSION_SECONDS - 2) * 1000, 'not before the session ended');
    const shown = await outcome(page);
    assert.equal(shown.code, 'auth');
    assert.match(shown.error, /Log in again/);
    assertOk(await logIn(page, username, 'pw'), /Logged in again/);
    assert.equal(await page.getByTestId('v2-document').inputValue(), '{"typed":"during the session"}');
    await page.close();
  });

  test('upgrade a backup made without an account; restore shows the same document', async () => {
    const username = uniqueName('Old');
    const v1 = await createClient({ baseUrl: main.url }).account(username, 'old password');
    await v1.register();
    const doc1 = '{"before":"accounts","v":1}';
    const doc2 = '{"before":"accounts","v":2,"text":"\u00fcber"}';
    await v1.save(doc1);
    await v1.save(doc2);

    // From the view of backups without an account, its note leads to the upgrade.
    const page = await openPageIn(context, main);
    assert.ok(await visible(page, 'v1-view'));
    await page.getByTestId('v1-upgrade-link').click();
    assert.ok(await visible(page, 'upgrade-form'), 'the link opens the upgrade form');
    assert.equal(await focusedTestId(page), 'upgrade-username');
    const explanation = await page.getByTestId('upgrade-explanation').textContent();
    assert.match(explanation, /every stored version stays/);
    assert.match(explanation, /recovery code/);
    assert.match(explanation, /can no longer save or restore/);
    await shoot(page, 'upgrade-form');

    await page.getByTestId('upgrade-username').fill(username);
    await page.getByTestId('upgrade-password').fill('old passwort');
    assertError(await act(page, 'upgrade'), 'not_found', /No backup made without an account was found/);

    await page.getByTestId('upgrade-password').fill('old password');
    assertOk(await act(page, 'upgrade'), /now in an account, with every version/);
    await confirmRecovery(page);
    assertOk(await act(page, 'v2-restore'), /version 2\b/);
    assert.equal(await downloadOf(page, 'v2-download'), doc2);
    assertOk(await act(page, 'v2-versions-load'), /2 versions/);
    assertOk(await act(page, 'v2-restore-version-1'), /Restored version 1/);
    assert.equal(await downloadOf(page, 'v2-download'), doc1);

    // A new version on top of the moved ones, then the old way is closed.
    await page.getByTestId('v2-document').fill('{"after":"upgrade"}');
    assertOk(await act(page, 'v2-save'), /version 3\b/);
    assert.equal(await v1.restore().catch((e) => e.code), 'not_found', 'the v1 key is retired');

    // The view of backups without an account says where the backup went.
    const old = await openPageIn(context, main);
    await old.getByTestId('username').fill(username);
    await old.getByTestId('password').fill('old password');
    await old.getByTestId('document').fill('{"v1":"again"}');
    await old.getByTestId('save').click();
    await old.waitForFunction(() => document.body.getAttribute('aria-busy') === 'false' || document.querySelector('dialog[open]'));
    if (await old.locator('dialog[open]').count()) await old.getByTestId('confirm-new-backup').click();
    await idle(old);
    assertError(await outcome(old), 'already_registered', /now has an account.*Log in under "Account"/);
    await old.close();
    await page.close();
  });

  test('another backup of the username, under an older password, is brought into the account', async () => {
    const username = uniqueName('Two');
    const first = await createClient({ baseUrl: main.url }).account(username, 'first password');
    const second = await createClient({ baseUrl: main.url }).account(username, 'second password');
    await first.register();
    await first.save('{"from":"first"}');
    await second.save('{"from":"second"}');
    await second.save('{"from":"second","v":2}');

    const page = await openPage();
    await chooseMode(page, 'upgrade');
    await page.getByTestId('upgrade-username').fill(username);
    await page.getByTestId('upgrade-password').fill('first password');
    assertOk(await act(page, 'upgrade'), /now in an account/);
    await confirmRecovery(page);
    assert.equal(await visible(page, 'backup-choice'), false, 'one backup: nothing to choose');

    await page.getByTestId('adopt-summary').click();
    await page.getByTestId('adopt-password').fill('third password');
    assertError(await act(page, 'adopt-submit'), 'not_found', /No backup made without an account was found.*Nothing was changed/);
    await page.getByTestId('adopt-password').fill('second password');
    assertOk(await act(page, 'adopt-submit'), /Brought in, with every version: this account now holds 2 backups/);
    assert.ok(await visible(page, 'backup-choice'), 'two backups: a choice');
    assertOk(await act(page, 'v2-restore'), /version 2\b/);
    assert.equal(await downloadOf(page, 'v2-download'), '{"from":"second","v":2}');

    const other = await page.evaluate(() => [...document.querySelectorAll('[data-testid="backup-choice"] option')].find((o) => !o.selected).value);
    await page.getByTestId('backup-choice').selectOption(other);
    assertOk(await act(page, 'v2-restore'), /version 1\b/);
    assert.equal(await downloadOf(page, 'v2-download'), '{"from":"first"}');
    await axeCheck(page, 'two backups');
    assert.equal(await second.restore().catch((e) => e.code), 'not_found', 'the adopted v1 key is retired');
    await page.close();
  });

  test('a server that requires signed requests gets them from the account view too', async () => {
    const secret = randomBytes(16).toString('hex');
    const signed = await startBackupServer(await serverBinary(), 'page-v2-signed', { ...RELAXED_LIMITS, DAILYREPS_HMAC_SECRET: secret });
    const page = await openPage(signed);
    assert.ok(await visible(page, 'v2-signing-secret'), 'the account view asks for the secret');
    await chooseMode(page, 'register');
    await page.getByTestId('register-username').fill(uniqueName('Signed'));
    await page.getByTestId('register-password').fill('pw');
    await page.getByTestId('register-repeat').fill('pw');
    assertError(await act(page, 'create-account'), 'input', /signing secret/);
    assert.equal(await focusedTestId(page), 'v2-signing-secret');
    await page.getByTestId('v2-signing-secret').fill(secret);
    assertOk(await act(page, 'create-account'), /Account created/);
    await confirmRecovery(page);
    await page.getByTestId('v2-document').fill('{"signed":true}');
    assertOk(await act(page, 'v2-save'), /version 1\b/);
    assertOk(await act(page, 'v2-restore'), /version 1\b/);
    await page.close();
  });

  test('recover with the code, confirm the new code, then log in with the new password', async () => {
    const username = uniqueName('Forgot');
    const { session, recoveryCode } = await device().register(username, 'forgotten');
    await session.save('{"kept":"through recovery"}');

    const page = await openPage();
    // A first login fails; the name carries over to recovery.
    assertError(await logIn(page, username, 'no idea'), 'wrong_password', /I forgot my password/);
    await chooseMode(page, 'recover');
    assert.equal(await page.getByTestId('recover-username').inputValue(), username);
    assert.equal(await page.getByTestId('recover-password').getAttribute('autocomplete'), 'new-password');

    await page.getByTestId('recover-code').fill(recoveryCode.slice(0, 20));
    await page.getByTestId('recover-password').fill('remembered');
    await page.getByTestId('recover-repeat').fill('remembered');
    assertError(await act(page, 'recover'), 'input', /32 letters and digits.*this one has 16/);

    const someoneElses = (await device().register(uniqueName('Other'), 'x')).recoveryCode;
    await page.getByTestId('recover-code').fill(someoneElses);
    assertError(await act(page, 'recover'), 'wrong_password', /does not open the account/);

    await page.getByTestId('recover-code').fill(recoveryCode.toLowerCase().replaceAll('-', ' '));
    await page.getByTestId('recover-password').fill('remembered');
    await page.getByTestId('recover-repeat').fill('remembered');
    assertOk(await act(page, 'recover'), /New password set.*old recovery code no longer works/);
    const newCode = await page.getByTestId('recovery-code').textContent();
    assert.notEqual(newCode.trim(), recoveryCode, 'a new code');
    assert.equal(await visible(page, 'signed-in'), false, 'the new code is confirmed first');
    await confirmRecovery(page);

    assertOk(await act(page, 'logout'), /Logged out/);
    assertError(await logIn(page, username, 'forgotten'), 'wrong_password', /Wrong username or password/);
    assertOk(await logIn(page, username, 'remembered'), /Logged in.*version 1/);
    assertOk(await act(page, 'v2-restore'), /version 1/);
    assert.equal(await downloadOf(page, 'v2-download'), '{"kept":"through recovery"}');
    await assert.rejects(device().recover(username, recoveryCode, 'again'), (e) => e.code === 'wrong_password', 'the old code is spent');
    await page.close();
  });

  test('change the password: the old one stops working, the backup stays', async () => {
    const page = await openPage();
    const username = uniqueName('Change');
    await signUp(page, username, 'old one');
    await page.getByTestId('v2-document').fill('{"stays":true}');
    await act(page, 'v2-save');

    assert.equal(await page.getByTestId('password-current').getAttribute('autocomplete'), 'current-password');
    assert.equal(await page.getByTestId('password-new').getAttribute('autocomplete'), 'new-password');
    await page.getByTestId('password-current').fill('not it');
    await page.getByTestId('password-new').fill('new one');
    await page.getByTestId('password-repeat').fill('new one');
    assertError(await act(page, 'password-change'), 'wrong_password', /current password is wrong. Nothing was changed/);
    assert.equal(await focusedTestId(page), 'password-current');

    await page.getByTestId('password-current').fill('old one');
    await page.getByTestId('password-new').fill('new one');
    await page.getByTestId('password-repeat').fill('new one');
    assertOk(await act(page, 'password-change'), /Password changed/);
    // This page's session goes on.
    assertOk(await act(page, 'v2-restore'), /version 1/);

    await assert.rejects(device().login(username, 'old one'), (e) => e.code === 'wrong_password');
    const s = await device().login(username, 'new one');
    assert.equal((await s.restore()).text, '{"stays":true}');
    await page.close();
  });

  test('delete the account: asks for the password, says what goes, and it is gone', async () => {
    const page = await openPage();
    const username = uniqueName('Gone');
    await signUp(page, username, 'pw to delete');
    await page.getByTestId('v2-document').fill('{"bye":1}');
    await act(page, 'v2-save');
    const users = countRows(main, 'users');
    assert.match((await page.getByTestId('delete-account-what').textContent()).replace(/\s+/g, ' '), /every backup in it with all their versions, and its recovery code/);

    assertError(await act(page, 'delete-account'), 'input', /Enter your password/);
    await page.getByTestId('delete-account-password').fill('wrong');
    assertError(await act(page, 'delete-account'), 'wrong_password', /Nothing was deleted/);
    assert.equal(countRows(main, 'users'), users);

    await page.getByTestId('delete-account-password').fill('pw to delete');
    const gone = await act(page, 'delete-account');
    assertOk(gone, new RegExp(`account ${username} was deleted, with its 1 backup and every stored version`));
    assert.equal(countRows(main, 'users'), users - 1);
    assert.ok(await visible(page, 'login-form'));
    assert.equal(await page.getByTestId('v2-document').inputValue(), '', 'nothing of the account stays on the page');
    await assert.rejects(device().login(username, 'pw to delete'), (e) => e.code === 'wrong_password');
    await page.close();
  });

  test('log out ends the session on the server and clears the page', async () => {
    const username = uniqueName('Out');
    await device().register(username, 'pw');
    const page = await openPage();
    const tokens = recordTokens(page);
    assertOk(await logIn(page, username, 'pw'), /Logged in/);
    await page.getByTestId('v2-document').fill('{"private":true}');
    await act(page, 'v2-save');
    await act(page, 'v2-restore');
    const token = tokens.at(-1);
    assert.ok(token, 'the page used a session');
    assert.equal((await api(main, 'GET', '/api/v2/backups', undefined, { Authorization: token })).status, 200);

    assertOk(await act(page, 'logout'), /Logged out/);
    assert.equal((await api(main, 'GET', '/api/v2/backups', undefined, { Authorization: token })).status, 401, 'the token is dead');
    assert.ok(await visible(page, 'login-form'));
    const left = await page.evaluate(() => [document.getElementById('v2-document').value, document.getElementById('v2-restored').value]);
    assert.deepEqual(left, ['', '']);
    await page.close();
  });

  test('the slow step shows its progress in plain words, next to the control used', async () => {
    const username = uniqueName('Slow');
    // Ten times the floor: at 600,000 iterations a fast machine's derivation
    // can end before the bar's first update (100 ms), which a person would
    // not miss and this test could not see.
    await device().register(username, 'pw', { iterations: 6_000_000 });
    const page = await openPage();
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.getElementById('progress-bar');
      const label = document.getElementById('progress-label');
      const record = () => {
        const box = document.getElementById('progress');
        if (box.hidden) return;
        window.__progress.push({ label: label.textContent, value: bar.hasAttribute('value') ? bar.value : null, max: bar.max, card: box.closest('section')?.id ?? null });
      };
      new MutationObserver(record).observe(document.getElementById('progress'), { subtree: true, childList: true, characterData: true, attributes: true });
      // The bar's value is a property, which no observer sees: every value
      // the page sets is recorded as it is set (sampling could miss a short
      // derivation's few updates on a busy machine).
      const { get, set } = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value');
      Object.defineProperty(bar, 'value', {
        configurable: true,
        get() { return get.call(this); },
        set(v) { set.call(this, v); record(); },
      });
    });
    assertOk(await logIn(page, username, 'pw'), /Logged in/);
    const seen = await page.evaluate(() => window.__progress);
    const slow = seen.filter((p) => /password on this device/.test(p.label));
    assert.ok(slow.length > 0, `the slow step is announced: ${JSON.stringify(seen.slice(0, 5))}`);
    assert.ok(slow.every((p) => p.card === 'signin-card'), 'shown in the card of the login');
    assert.ok(slow.some((p) => p.value !== null && p.value > 0 && p.value < p.max), 'the bar moves through the slow step');
    for (const { label } of seen) assert.doesNotMatch(label, /PBKDF2|HKDF|rounds|iteration|deriv/i, `plain words: ${label}`);
    await page.close();
  });

  test('on a phone, the recovery code fits and results appear in view; the two views are one link apart', async () => {
    const page = await openPage();
    await page.setViewportSize({ width: 375, height: 700 });
    assert.equal(await page.getByTestId('view-account').getAttribute('aria-current'), 'page');
    await chooseMode(page, 'register');
    await page.getByTestId('register-username').fill(uniqueName('Phone'));
    await page.getByTestId('register-password').fill('pw');
    await page.getByTestId('register-repeat').fill('pw');
    await act(page, 'create-account');
    const fits = await page.evaluate(() => {
      const code = document.querySelector('[data-testid="recovery-code"]').getBoundingClientRect();
      const card = document.querySelector('[data-testid="recovery-card"]').getBoundingClientRect();
      return { page: document.documentElement.scrollWidth <= innerWidth, code: code.right <= card.right && code.top >= 0 && code.bottom <= innerHeight };
    });
    assert.deepEqual(fits, { page: true, code: true }, 'the code is whole and in view, with no sideways scrolling');
    await shoot(page, 'phone-recovery-code');
    await confirmRecovery(page);
    const inView = await page.evaluate(() => {
      const r = document.querySelector('[data-testid="status"]').getBoundingClientRect();
      return r.top >= 0 && r.bottom <= innerHeight;
    });
    assert.ok(inView, 'the result of opening the account is in view');

    await page.getByTestId('view-v1').click();
    assert.ok(await visible(page, 'v1-view'));
    assert.equal(await visible(page, 'v2-view'), false);
    assert.equal(await page.getByTestId('view-v1').getAttribute('aria-current'), 'page');
    assert.match(await page.getByTestId('v1-note').textContent(), /before accounts existed/);
    await page.goBack();
    assert.ok(await visible(page, 'signed-in'), 'back to the account, still signed in');
    await page.close();
  });

  test('axe-core finds no violations in any view of the account page, light and dark', async () => {
    const page = await openPage();
    await axeCheck(page, 'login form');
    for (const mode of ['register', 'recover', 'upgrade']) {
      await chooseMode(page, mode);
      await axeCheck(page, `${mode} form`);
    }
    await chooseMode(page, 'login');
    await logIn(page, uniqueName('Nobody'), 'pw');
    await axeCheck(page, 'login refused');

    await chooseMode(page, 'register');
    await page.getByTestId('register-username').fill(uniqueName('Axe'));
    await page.getByTestId('register-password').fill('pw');
    await page.getByTestId('register-repeat').fill('pw');
    await act(page, 'create-account');
    await axeCheck(page, 'recovery code shown');
    await page.getByTestId('recovery-saved').click();
    await act(page, 'recovery-confirm');
    await axeCheck(page, 'recovery code refused');
    await page.getByTestId('recovery-show-again').click();
    await confirmRecovery(page);
    await axeCheck(page, 'signed in');
    await page.getByTestId('v2-document').fill('{"axe":1}');
    await act(page, 'v2-save');
    await act(page, 'v2-restore');
    await act(page, 'v2-versions-load');
    await act(page, 'account-load');
    await axeCheck(page, 'after use');
    await page.getByTestId('v2-document').fill('{');
    await act(page, 'v2-save');
    await axeCheck(page, 'with an error');
    await page.emulateMedia({ colorScheme: 'dark' });
    await axeCheck(page, 'dark, signed in');
    await shoot(page, 'dark');
    await act(page, 'logout');
    await axeCheck(page, 'dark, logged out');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByTestId('view-v1').click();
    await axeCheck(page, 'backups without an account');
    await page.close();
  });

  test('keyboard only: create an account, confirm the code, save, restore, log out, log in', async () => {
    const page = await openPage();
    const username = uniqueName('Keys');
    const type = (text) => page.keyboard.type(text);
    const press = async (key) => {
      await page.keyboard.press(key);
      await idle(page);
    };

    await tabTo(page, 'v2-mode-login');
    await page.keyboard.press('ArrowRight');
    assert.ok(await visible(page, 'register-form'), 'the arrow key chose "Create an account"');
    await tabTo(page, 'register-username');
    await type(username);
    await page.keyboard.press('Tab');
    await type('typed pw');
    await page.keyboard.press('Tab');
    await type('typed pw');
    await press('Enter');
    assert.equal(await focusedTestId(page), 'recovery-heading');
    const code = (await page.getByTestId('recovery-code').textContent()).trim();

    await tabTo(page, 'recovery-saved');
    await page.keyboard.press('Enter');
    assert.equal(await focusedTestId(page), 'recovery-group-a');
    const [a, b] = await askedGroups(page);
    await type(code.split('-')[a]);
    await page.keyboard.press('Tab');
    await type(code.split('-')[b]);
    await press('Enter');
    assert.ok(await visible(page, 'signed-in'), 'signed in by keyboard');
    assert.notEqual(await focusedTestId(page), 'BODY', 'the focus did not fall to the page');

    await tabTo(page, 'v2-document');
    await type('{"by":"keyboard"}');
    await tabTo(page, 'v2-save');
    await press('Enter');
    assert.match((await outcome(page)).status ?? '', /version 1\b/);
    assert.equal(await focusedTestId(page), 'v2-save');

    await tabTo(page, 'v2-restore');
    await press('Enter');
    assert.match((await outcome(page)).status ?? '', /Restored the latest backup/);
    assert.equal(await page.getByTestId('v2-restored').inputValue(), JSON.stringify({ by: 'keyboard' }, null, 2));

    await page.getByTestId('session-heading').focus();
    await tabTo(page, 'logout');
    await press('Space');
    assert.match((await outcome(page)).status ?? '', /Logged out/);

    // Log in again: the form takes Enter from the password field.
    await page.getByTestId('signin-heading').focus();
    await tabTo(page, 'login-username');
    await type(username);
    await page.keyboard.press('Tab');
    await type('typed pw');
    await press('Enter');
    assert.match((await outcome(page)).status ?? '', /Logged in.*version 1/);
    assert.deepEqual(page.problems, []);
    await page.close();
  });
});
