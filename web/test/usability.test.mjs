// The reference page as a person uses it (issue 17): one test per finding,
// each driving the page in Chromium against the real server. Screenshots of
// the steps that matter go to web/test-artifacts/ (not committed), so a
// failure can be looked at, not only read.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { createClient } from '../../pb_public/dailyreps-backup.js';
import {
  RELAXED_LIMITS,
  act,
  assertError,
  assertOk,
  cleanUp,
  downloadText,
  fillCredentials,
  launchBrowser,
  openPage as openPageIn,
  outcome,
  repoRoot,
  serverBinary,
  sleep,
  startBackupServer,
  uniqueName,
} from './harness.mjs';

const artifacts = join(repoRoot, 'web', 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The limited server's settings: a small size limit, so that files just
// over and just under it are quick to make, and two saves an hour.
const MAX_BACKUP_BYTES = 65536;
const SAVES_PER_HOUR = 2;
// The largest document whose sealed envelope {"encrypted":"<base64 of
// document + 16-byte tag>","nonce":"<16 chars>"} fits MAX_BACKUP_BYTES.
const MAX_PLAIN = Math.floor((MAX_BACKUP_BYTES - 43) / 4) * 3 - 16;

let bin;
let main;
let limited;
let context;

const openPage = (server, options) => openPageIn(context, server, options);
const shoot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

before(async () => {
  bin = await serverBinary();
  main = await startBackupServer(bin, 'usability', RELAXED_LIMITS);
  limited = await startBackupServer(bin, 'limited', {
    ...RELAXED_LIMITS,
    DAILYREPS_MAX_BACKUP_BYTES: String(MAX_BACKUP_BYTES),
    DAILYREPS_SAVES_PER_HOUR: String(SAVES_PER_HOUR),
  });
  context = await launchBrowser();
}, { timeout: 15 * 60_000 });

after(cleanUp);

/** An account made with the module in Node, as another device would. */
async function nodeAccount(server, username, password) {
  return createClient({ baseUrl: server.url }).account(username, password);
}

/** Which request paths the page sends, for asserting that nothing was sent. */
function recordRequests(page) {
  const sent = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) sent.push(`${r.method()} ${u.pathname}`);
  });
  return sent;
}

/** Clicks a control and waits until its action finished or a dialog asks something. */
async function clickAndSettle(page, testId) {
  await page.getByTestId(testId).click();
  await page.waitForFunction(
    () => document.body.getAttribute('aria-busy') === 'false' || document.querySelector('dialog[open]'),
    null,
    { timeout: 60_000 },
  );
}

// Messages are matched only when shown, so that the checks read the same on
// a page that keeps hidden message elements around.
const SHOWN = '[data-testid="status"]:not([hidden]), [data-testid="error"]:not([hidden])';

function statusText(page) {
  return page.evaluate(() => document.querySelector('[data-testid="status"]:not([hidden])')?.textContent ?? null);
}

function errorText(page) {
  return page.evaluate(() => document.querySelector('[data-testid="error"]:not([hidden])')?.textContent ?? null);
}

/** Picks a file in the page's file field and waits until the page reacted. */
async function pick(page, name, mimeType, text) {
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('[data-testid="status"], [data-testid="error"]')) el.hidden = true;
  });
  await page.getByTestId('file').setInputFiles({ name, mimeType, buffer: Buffer.from(text) });
  await page.waitForFunction((shown) => document.querySelector(shown), SHOWN, { timeout: 15_000 });
}

/** A compact JSON document of exactly n bytes. */
function jsonOfSize(n) {
  const head = '{"pad":"';
  const text = `${head}${'x'.repeat(n - head.length - 2)}"}`;
  assert.equal(Buffer.byteLength(text), n);
  return text;
}

/** WCAG contrast ratio of two CSS rgb() colours (alpha ignored). */
function contrast(a, b) {
  const lum = (css) => {
    const [r, g, bl] = css.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('issue 17: the page as a person uses it', () => {
  test('1a. a save under a password with no backup asks first, and saves nothing unless confirmed', async () => {
    const username = uniqueName('alice');
    const real = await nodeAccount(main, username, 'the real password');
    await real.register();
    await real.save('{"old":true}');

    const page = await openPage(main);
    const sent = recordRequests(page);
    await fillCredentials(page, username, 'the reel password');
    await page.getByTestId('document').fill('{"new":true}');
    await clickAndSettle(page, 'save');
    await shoot(page, '1a-confirm-new-backup');
    const dialog = page.locator('dialog[open]');
    assert.equal(await dialog.count(), 1, `the page saved without asking: ${await statusText(page)}`);
    const question = await dialog.textContent();
    assert.match(question, /no backup/i);
    assert.match(question, /new, separate backup/i);
    assert.ok(!sent.includes('POST /api/backup'), `nothing is uploaded before the answer: ${sent}`);

    await page.getByTestId('confirm-cancel').click();
    await page.waitForSelector('body[aria-busy="false"]');
    assert.ok(!sent.includes('POST /api/backup'), `cancel uploads nothing: ${sent}`);
    assert.match(await statusText(page), /Nothing was saved/);
    const typo = await nodeAccount(main, username, 'the reel password');
    assert.equal(await typo.versions().catch((e) => e.code), 'not_found', 'no backup under the mistyped password');

    await clickAndSettle(page, 'save');
    await page.getByTestId('confirm-new-backup').click();
    await page.waitForSelector('body[aria-busy="false"]');
    assert.match(await statusText(page), /new backup.*version 1|version 1.*new backup/i);

    // The real password has a backup: no question, the next version.
    await fillCredentials(page, username, 'the real password');
    await page.getByTestId('document').fill('{"old":false}');
    await clickAndSettle(page, 'save');
    assert.equal(await page.locator('dialog[open]').count(), 0, 'no question when the backup exists');
    assert.match(await statusText(page), /version 2\b/);
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('1b. delete says what it removed and which backups remain under the username', async () => {
    const username = uniqueName('twice');
    const a = await nodeAccount(main, username, 'password A');
    const b = await nodeAccount(main, username, 'password B');
    await a.register();
    await a.save('{"a":1}');
    await b.save('{"b":1}');

    const page = await openPage(main);
    await fillCredentials(page, username, 'password B');
    await page.getByTestId('delete-confirm').check();
    const first = await act(page, 'delete');
    await shoot(page, '1b-delete-one-of-two');
    assertOk(first, /1 other backup.*remains/i);
    assert.doesNotMatch(first.status, /every stored version were deleted/);

    await fillCredentials(page, username, 'password A');
    await page.getByTestId('delete-confirm').check();
    assertOk(await act(page, 'delete'), /no backup remains under this username/i);
    await page.close();
  });

  test('2. restoring a large backup keeps the tab responsive and shows a preview', async () => {
    const username = uniqueName('big');
    const acct = await nodeAccount(main, username, 'pw');
    await acct.register();
    const doc = JSON.stringify({
      workouts: Array.from({ length: 38_000 }, (_, i) => ({ day: `2025-${(i % 12) + 1}-${(i % 28) + 1}`, exercise: `exercise-${i % 40}`, reps: [i % 30, i % 25, i % 20], note: 'steady' })),
    });
    assert.ok(doc.length > 2.5 * 1024 * 1024, `document of ${doc.length} bytes`);
    await acct.save(doc);

    const page = await openPage(main, {
      initScript: () => {
        window.__longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
        }).observe({ type: 'longtask', buffered: true });
      },
    });
    await fillCredentials(page, username, 'pw');
    // When a result message appears, and when the frame after it was painted.
    await page.evaluate(() => {
      window.__shown = null;
      new MutationObserver(() => {
        if (window.__shown || !document.querySelector('[data-testid="status"]:not([hidden]), [data-testid="error"]:not([hidden])')) return;
        const set = performance.now();
        window.__shown = { set };
        requestAnimationFrame(() => setTimeout(() => (window.__shown.painted = performance.now()), 0));
      }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });
    const clickedAt = await page.evaluate(() => performance.now());
    await page.getByTestId('restore').click();
    // Generous: a frozen tab is what this test measures, not a reason to stop early.
    await page.waitForSelector('body[aria-busy="false"]', { timeout: 240_000 });
    const result = await outcome(page);
    await page.waitForFunction(() => window.__shown?.painted, null, { timeout: 120_000 });
    assertOk(result, /Restored the latest backup/);
    const { longTasks, shown } = await page.evaluate(() => ({ longTasks: window.__longTasks, shown: window.__shown }));
    const during = longTasks.filter((t) => t.start + t.duration >= clickedAt);
    const longest = Math.max(0, ...during.map((t) => t.duration));
    console.log(`# large restore: longest task ${Math.round(longest)} ms of ${during.length}; status set ${Math.round(shown.set - clickedAt)} ms after the click, painted ${Math.round(shown.painted - shown.set)} ms later`);
    assert.ok(longest < 1000, `the main thread was blocked for ${Math.round(longest)} ms at a time`);
    assert.ok(shown.painted - shown.set < 1000, `the status took ${Math.round(shown.painted - shown.set)} ms to be painted`);
    await shoot(page, '2-large-restore');

    const shownText = await page.getByTestId('restored').inputValue();
    assert.ok(shownText.length < 64 * 1024, `a preview, not the whole document: ${shownText.length} characters shown`);
    assert.match(await page.getByTestId('restored-meta').textContent(), /Download/i);
    assert.equal(await downloadText(page), doc, 'the download is the exact document');
    assert.deepEqual(page.problems, []);
    await page.close();
  });

  test('3. one size limit: the real one after encryption, in the hint and every error', async () => {
    const page = await openPage(limited);
    const sent = recordRequests(page);
    const hint = await page.getByTestId('size-limit').textContent();
    const figure = /(\d+(?:\.\d)? (?:B|KiB|MiB))/.exec(hint)?.[1];
    assert.ok(figure, `the hint names the limit: ${hint}`);

    // Over the real limit, though under maxBackupBytes: refused on pick, with the hint's figure.
    await pick(page, 'over.json', 'application/json', jsonOfSize(MAX_PLAIN + 1));
    await shoot(page, '3-file-over-limit');
    const over = await errorText(page);
    assert.ok(over, `a file of ${MAX_PLAIN + 1} bytes was accepted on pick: ${await statusText(page)}`);
    assert.ok(over.includes(figure), `the error names the hint's figure ${figure}: ${over}`);
    assert.doesNotMatch(over, /quota/i);

    // Exactly at the limit: accepted, and the server takes it.
    await pick(page, 'at.json', 'application/json', jsonOfSize(MAX_PLAIN));
    assert.match(await statusText(page), /Loaded at\.json/);
    const username = uniqueName('limit');
    await (await nodeAccount(limited, username, 'pw')).register();
    await fillCredentials(page, username, 'pw');
    await clickAndSettle(page, 'save');
    if (await page.locator('dialog[open]').count()) {
      await page.getByTestId('confirm-new-backup').click();
      await page.waitForSelector('body[aria-busy="false"]');
    }
    assert.match(await statusText(page), /version 1/);

    // Pasted text over the limit is refused before anything is sent.
    const before = sent.length;
    await page.getByTestId('document').fill(jsonOfSize(MAX_PLAIN + 1));
    const pasted = await act(page, 'save');
    assertError(pasted, 'too_large', new RegExp(figure.replace('.', '\\.')));
    assert.deepEqual(sent.slice(before), [], 'nothing sent for an oversized paste');

    // Quota only when the server says quota.
    await page.getByTestId('document').fill('{"small":1}');
    await page.route('**/api/backup', (route) => route.fulfill({ status: 413, contentType: 'application/json', body: '{"error":"The backup is too large."}' }));
    const size = await act(page, 'save');
    assert.doesNotMatch(size.error, /quota/i);
    assert.ok(size.error.includes(figure), `the 413 names ${figure}: ${size.error}`);
    await page.unroute('**/api/backup');
    await page.route('**/api/backup', (route) => route.fulfill({ status: 413, contentType: 'application/json', body: '{"error":"This save would exceed the user\'s storage quota."}' }));
    assertError(await act(page, 'save'), 'too_large', /quota/);
    await page.unroute('**/api/backup');
    await page.close();
  });

  test('4. a picked file is checked on pick; a bad one leaves the text area alone', async () => {
    const page = await openPage(main);
    const kept = '{"keep": true}';
    await page.getByTestId('document').fill(kept);

    await pick(page, 'notes.txt', 'text/plain', 'shopping list: eggs');
    await shoot(page, '4-text-file');
    const txt = await errorText(page);
    assert.ok(txt, `a .txt file was accepted: ${await statusText(page)}`);
    assert.equal(await page.getByTestId('document').inputValue(), kept, 'the text area keeps its document');
    assert.equal(await page.getByTestId('file').getAttribute('aria-invalid'), 'true');

    await pick(page, 'broken.json', 'application/json', '{\n  "a": 1,\n}\n');
    const broken = await errorText(page);
    assert.match(broken ?? '', /line 3, column 1/);
    assert.equal(await page.getByTestId('document').inputValue(), kept);

    await pick(page, 'good.json', 'application/json', '{"good": true}');
    assert.match(await statusText(page), /Loaded good\.json/);
    assert.equal(await page.getByTestId('document').inputValue(), '{"good": true}');
    assert.equal(await page.getByTestId('file').getAttribute('aria-invalid'), null);
    await page.close();
  });

  test('5. the save limits are shown near Save, and what is left once the server says so', async () => {
    const page = await openPage(limited);
    const note = page.locator('[data-testid="save-limits"]');
    assert.equal(await note.count(), 1, 'the page shows no save limits near Save');
    assert.match(await note.textContent(), new RegExp(`${SAVES_PER_HOUR} saves an hour`));
    const near = await page.evaluate(() => {
      const a = document.querySelector('[data-testid="save"]').getBoundingClientRect();
      const b = document.querySelector('[data-testid="save-limits"]').getBoundingClientRect();
      return Math.abs(b.top - a.bottom);
    });
    assert.ok(near < 120, `the limits are ${near} px from Save`);

    const username = uniqueName('hourly');
    await (await nodeAccount(limited, username, 'pw')).register();
    await fillCredentials(page, username, 'pw');
    for (let i = 1; i <= SAVES_PER_HOUR; i++) {
      await page.getByTestId('document').fill(`{"n":${i}}`);
      await clickAndSettle(page, 'save');
      if (await page.locator('dialog[open]').count()) {
        await page.getByTestId('confirm-new-backup').click();
        await page.waitForSelector('body[aria-busy="false"]');
      }
      assert.match(await statusText(page), new RegExp(`version ${i}\\b`));
    }
    const refused = await act(page, 'save');
    await shoot(page, '5-hourly-limit');
    assertError(refused, 'rate_limited', /hour/);
    assert.match(await note.textContent(), /next save .*in (about )?\d+ minutes?/i);
    await page.close();
  });

  test('6. focus stays on the control used, or moves to a result out of view', async () => {
    const page = await openPage(main);
    await fillCredentials(page, uniqueName('keys'), 'pw');
    await page.getByTestId('mode-register').check().catch(() => {});
    await page.getByTestId('register').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector(SHOWN);
    await page.waitForSelector('body[aria-busy="false"]');
    const afterRegister = await page.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName);
    assert.notEqual(afterRegister, 'BODY', 'focus fell to the body after registering');

    await page.getByTestId('document').fill('{"v":1}');
    await page.getByTestId('save').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[aria-busy="false"]');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset?.testid), 'save', 'focus stays on Save');

    // Restoring a version from the list: the document appears above, out of
    // view, so focus goes to it.
    await page.getByTestId('versions-load').click();
    await page.waitForSelector('[data-testid="restore-version-1"]');
    await page.waitForSelector('body[aria-busy="false"]');
    await page.getByTestId('restore-version-1').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[aria-busy="false"]');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const r = el.getBoundingClientRect();
      return { id: el.id || el.tagName, inView: r.top >= 0 && r.bottom <= innerHeight };
    });
    assert.notEqual(focused.id, 'BODY');
    assert.ok(focused.inView, `the focused element ${focused.id} is in view`);
    await page.close();
  });

  test('7. on a phone, results appear where the person is looking, and nothing covers the content', async () => {
    const page = await openPage(main);
    await page.setViewportSize({ width: 375, height: 700 });
    const username = uniqueName('phone');
    const acct = await nodeAccount(main, username, 'pw');
    await acct.register();
    await acct.save('{"v":1}');
    await acct.save('{"v":2}');
    await fillCredentials(page, username, 'pw');
    await page.getByTestId('versions-load').scrollIntoViewIfNeeded();
    assertOk(await act(page, 'versions-load'), /2 versions/);
    await page.getByTestId('restore-version-1').scrollIntoViewIfNeeded();
    assertOk(await act(page, 'restore-version-1'), /Restored version 1/);
    const visible = (testId) =>
      page.evaluate((id) => {
        const el = document.querySelector(`[data-testid="${id}"]`);
        if (!el) return `${id} missing`;
        const r = el.getBoundingClientRect();
        if (r.bottom <= 0 || r.top >= innerHeight) return `${id} is out of view (top ${Math.round(r.top)})`;
        const hit = document.elementFromPoint(r.left + Math.min(20, r.width / 2), Math.max(r.top, 0) + Math.min(8, r.height / 2));
        return el.contains(hit) ? 'ok' : `${id} is covered by ${hit?.className || hit?.tagName}`;
      }, testId);
    assert.equal(await visible('restored-meta'), 'ok');
    assert.equal(await visible('status'), 'ok');
    // A full-page screenshot scrolls, so it comes after the checks.
    await shoot(page, '7-phone-restore-version');

    // A long error, then the next card scrolled to the top: no banner on it.
    await page.getByTestId('document').fill('{"a": 1, "b": [1, 2, 3,}');
    await page.getByTestId('save').scrollIntoViewIfNeeded();
    await act(page, 'save');
    await page.evaluate(() => document.getElementById('versions-heading').scrollIntoView({ block: 'start' }));
    assert.equal(await page.evaluate(() => {
      const h = document.getElementById('versions-heading');
      const r = h.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + 5, r.top + 5);
      return h.contains(hit) ? 'ok' : `covered by ${hit?.className || hit?.tagName}`;
    }), 'ok');
    await page.screenshot({ path: join(artifacts, '7-phone-after-error.png') });
    await page.close();
  });

  test('8. real forms: Enter submits, and password managers get the right hint', async () => {
    const page = await openPage(main);
    const username = uniqueName('enter');
    await fillCredentials(page, username, 'pw');
    await page.getByTestId('password').press('Enter');
    await sleep(1500);
    await page.waitForFunction(() => document.body.getAttribute('aria-busy') !== 'true');
    const r = await page.evaluate((shown) => document.querySelector(shown)?.textContent ?? null, SHOWN);
    assert.ok(r, 'Enter in the password field did nothing');
    assert.equal(await page.getByTestId('password').getAttribute('autocomplete'), 'current-password');
    assert.equal(await page.evaluate(() => document.querySelector('[data-testid="password"]').form?.id), 'account-form');

    await page.getByTestId('mode-register').check();
    assert.equal(await page.getByTestId('password').getAttribute('autocomplete'), 'new-password');
    await page.getByTestId('password').press('Enter');
    await page.waitForSelector('[data-testid="status"]:not([hidden])');
    await page.waitForSelector('body[aria-busy="false"]');
    assert.match(await statusText(page), /Registered/);
    assert.equal(await page.getByTestId('password').getAttribute('autocomplete'), 'current-password', 'back to signing in after registering');
    await shoot(page, '8-registered-with-enter');
    await page.close();
  });

  test('9. plain words: where the JSON is wrong, and what the progress is', async () => {
    const page = await openPage(main);
    await fillCredentials(page, uniqueName('words'), 'pw');
    const labels = new Set();
    await page.exposeFunction('recordLabel', (l) => labels.add(l));
    await page.evaluate(() => {
      new MutationObserver(() => window.recordLabel(document.querySelector('[data-testid="progress-label"]').textContent)).observe(
        document.querySelector('[data-testid="progress-label"]'),
        { childList: true, characterData: true, subtree: true },
      );
    });
    await page.getByTestId('document').fill('{\n  "workouts": [1, 2,\n]}');
    const bad = await act(page, 'save');
    await shoot(page, '9-json-error');
    assertError(bad, 'input', /line 3, column 1/);
    assert.doesNotMatch(bad.error, /Unexpected token|JSON\.parse|position \d/);

    await page.getByTestId('document').fill('{"v":1}');
    await page.getByTestId('mode-register').check().catch(() => {});
    await act(page, 'register');
    await clickAndSettle(page, 'save');
    const all = [...labels].filter(Boolean);
    assert.ok(all.length > 0, 'progress was shown');
    for (const l of all) assert.doesNotMatch(l, /PBKDF2|rounds|deriv/i, `plain words: ${l}`);
    await page.close();
  });

  test('10. versions: times to the second, and the size says what it measures', async () => {
    const username = uniqueName('times');
    const acct = await nodeAccount(main, username, 'pw');
    await acct.register();
    await acct.save('{"v":1}');
    await acct.save('{"v":2}');
    const page = await openPage(main);
    await fillCredentials(page, username, 'pw');
    assertOk(await act(page, 'versions-load'), /2 versions/);
    await shoot(page, '10-versions');
    const { header, cells } = await page.evaluate(() => ({
      header: [...document.querySelectorAll('[data-testid="versions-table"] th')].map((th) => th.textContent),
      cells: [...document.querySelectorAll('[data-testid="versions-list"] tr')].map((tr) => [...tr.cells].map((td) => td.textContent)),
    }));
    for (const row of cells) assert.match(row[1], /\d{1,2}:\d{2}:\d{2}/, `seconds shown: ${row[1]}`);
    assert.ok(header.some((h) => /size.*encrypted|encrypted.*size/i.test(h)), `the size column says it is encrypted: ${header}`);
    await page.close();
  });

  test('11. focus ring and input borders reach 3:1, and the checkbox is a 24 px target on a phone', async () => {
    const page = await openPage(main);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.getByTestId('save').focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const c = await page.evaluate(() => {
        const card = getComputedStyle(document.querySelector('.card')).backgroundColor;
        const bg = getComputedStyle(document.body).backgroundColor;
        const focus = getComputedStyle(document.activeElement).outlineColor;
        const border = getComputedStyle(document.querySelector('[data-testid="username"]')).borderTopColor;
        return { card, bg, focus, border };
      });
      for (const against of [c.card, c.bg]) {
        assert.ok(contrast(c.focus, against) >= 3, `${scheme}: focus ring ${c.focus} on ${against} is ${contrast(c.focus, against).toFixed(2)}:1`);
      }
      assert.ok(contrast(c.border, c.card) >= 3, `${scheme}: input border ${c.border} on ${c.card} is ${contrast(c.border, c.card).toFixed(2)}:1`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 375, height: 700 });
    const box = await page.getByTestId('delete-confirm').boundingBox();
    assert.ok(box.width >= 24 && box.height >= 24, `checkbox is ${box.width}x${box.height} px`);
    await page.close();
  });

  test('axe-core finds no serious or critical problem, light and dark, before and after use', async () => {
    const page = await openPage(main);
    const check = async (state) => {
      await page.evaluate(axeSource);
      const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe, ${state}`);
    };
    await check('at start');
    const username = uniqueName('axe');
    const acct = await nodeAccount(main, username, 'pw');
    await acct.register();
    await acct.save('{"v":1}');
    await fillCredentials(page, username, 'pw');
    await act(page, 'restore');
    await act(page, 'versions-load');
    await act(page, 'activity-load');
    await check('after a restore');
    await page.getByTestId('document').fill('{');
    await act(page, 'save');
    await check('with an error shown');
    await page.emulateMedia({ colorScheme: 'dark' });
    await check('in dark mode');
    await shoot(page, 'axe-dark');
    await page.close();
  });
});
