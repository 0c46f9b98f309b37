// The protocol v2 client against the real server, every flow of
// web/test/v2-flows.mjs twice: in Node, and in Chromium with the module as
// the server serves it (localStorage as the rollback memory, kept across a
// reload). Signing is on, and the server asks for more than the minimum
// iterations, so that an account registered at the minimum is raised.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

import { RELAXED_LIMITS, cleanUp, launchBrowser, repoRoot, serverBinary, startBackupServer } from './harness.mjs';
import { FLOWS, v2Flow } from './v2-flows.mjs';

const secret = `v2-${randomBytes(16).toString('hex')}`;
const ITERATIONS = '650000';
let server;
let context;

before(async () => {
  const bin = await serverBinary();
  server = await startBackupServer(bin, 'client-v2', { ...RELAXED_LIMITS, DAILYREPS_HMAC_SECRET: secret, DAILYREPS_KDF_ITERATIONS: ITERATIONS });
  context = await launchBrowser();
}, { timeout: 15 * 60_000 });

after(cleanUp);

const nodeArgs = (tag, state) => ({
  moduleBase: pathToFileURL(join(repoRoot, 'pb_public') + '/').href,
  baseUrl: server.url,
  signingSecret: secret,
  tag,
  state,
});

/** A page on the server's origin, where the module is imported from /dailyreps-v2.js. */
async function origin() {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.problems = problems;
  await page.goto(`${server.url}/`);
  return page;
}

/** Runs a flow inside the page: its source, called with JSON arguments. */
function inPage(page, name, tag, state) {
  const args = { moduleBase: `${server.url}/`, baseUrl: server.url, signingSecret: secret, tag, state };
  return page.evaluate(`(${v2Flow.toString()})(${JSON.stringify(name)}, ${JSON.stringify(args)})`);
}

for (const name of FLOWS) {
  test(`node: ${name}`, async () => {
    await v2Flow(name, nodeArgs('node'));
  });
}

test('node: rollback warning', async () => {
  const state = await v2Flow('rollback', nodeArgs('node'));
  await v2Flow('rollbackSeen', nodeArgs('node', state));
});

for (const name of FLOWS) {
  test(`chromium: ${name}`, async () => {
    const page = await origin();
    await inPage(page, name, 'chromium');
    assert.deepEqual(page.problems, []);
    await page.close();
  });
}

test('chromium: rollback warning, remembered in localStorage across a reload', async () => {
  const page = await origin();
  const state = await inPage(page, 'rollback', 'chromium');
  const key = `dailyreps-v2-seen:`;
  const remembered = await page.evaluate((prefix) => Object.keys(localStorage).filter((k) => k.startsWith(prefix)).map((k) => localStorage.getItem(k)), key);
  assert.ok(remembered.includes('3'), `localStorage holds the highest version seen: ${remembered}`);
  await page.reload();
  await inPage(page, 'rollbackSeen', 'chromium', state);
  assert.deepEqual(page.problems, []);
  await page.close();
});
