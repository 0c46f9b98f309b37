// Protocol v2 between the two reference clients against one running server:
// the Go client (the binary's `client` command, package client underneath)
// and the JS module in Chromium, as the server serves it. Each side
// registers, saves, upgrades from v1 or recovers, and the other restores
// byte for byte. Signing is on; the username needs JavaScript's own
// lower-casing (a dotted capital I, a final sigma) and the browser types the
// password decomposed (NFD) where Go has it composed, so both must derive
// the same account id and the same keys.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { RELAXED_LIMITS, cleanUp, launchBrowser, scratch, serverBinary, startBackupServer } from './harness.mjs';

const secret = `interop-v2-${randomBytes(16).toString('hex')}`;
const passwordNFC = 'pässwörd – correct horse'.normalize('NFC');
const passwordNFD = passwordNFC.normalize('NFD');

let server;
let context;
let cliDir;
let cli;

before(async () => {
  assert.notEqual(passwordNFC, passwordNFD, 'the two spellings differ in bytes');
  const bin = await serverBinary();
  server = await startBackupServer(bin, 'interop-v2', { ...RELAXED_LIMITS, DAILYREPS_HMAC_SECRET: secret });
  cliDir = mkdtempSync(join(scratch, 'cli-v2-'));
  cli = join(cliDir, 'dailyreps-backup');
  copyFileSync(bin, cli);
  chmodSync(cli, 0o755);
  context = await launchBrowser();
}, { timeout: 15 * 60_000 });

after(cleanUp);

/** Runs `dailyreps-backup client ...` the way a script would: no terminal, secrets in the environment. */
function client(args, { password = passwordNFC, env = {}, input } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cli, ['client', ...args, '--server', server.url], {
      cwd: cliDir,
      env: {
        PATH: process.env.PATH,
        HOME: cliDir,
        DAILYREPS_CONFIG_DIR: join(cliDir, 'config'),
        DAILYREPS_PASSWORD: password,
        DAILYREPS_HMAC_SECRET: secret,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout = [];
    const stderr = [];
    proc.stdout.on('data', (d) => stdout.push(d));
    proc.stderr.on('data', (d) => stderr.push(d));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') }));
    proc.stdin.end(input ?? '');
  });
}

async function clientOk(args, options) {
  const result = await client(args, options);
  assert.equal(result.code, 0, `client ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

/**
 * Runs fn(v2, v1, args) in a page of the server's origin, with the modules
 * as the server serves them; fn must stand alone (its source is sent).
 */
async function inBrowser(fn, args) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${server.url}/`);
  const call = `(async () => {
    const v2 = await import('/dailyreps-v2.js');
    const v1 = await import('/dailyreps-backup.js');
    return (${fn.toString()})(v2, v1, ${JSON.stringify({ baseUrl: server.url, signingSecret: secret, ...args })});
  })()`;
  try {
    return await page.evaluate(call);
  } finally {
    assert.deepEqual(problems, []);
    await page.close();
  }
}

function uniqueUsername(prefix) {
  const suffix = randomBytes(3).toString('hex');
  const username = `İlayda-ΟΔΥΣΣΕΥΣ-${prefix}-${suffix}`;
  const lowercase = username.toLowerCase();
  assert.ok(lowercase.startsWith('i\u0307layda-οδυσσευς-'), 'JavaScript lower-cases the dotted I and the final sigma');
  return { username, lowercase };
}

const bigDocument = (label) =>
  `${JSON.stringify({ app: 'dailyreps', label, note: 'Grüße 💪', workouts: Array.from({ length: 400 }, (_, i) => ({ day: i, reps: [20, 18, 15] })) }, null, 2)}\n`;

test('a v2 account crosses between the browser and the Go client, both ways, compressed', async () => {
  const { username, lowercase } = uniqueUsername('web');
  const fromBrowser = bigDocument('saved in the browser');

  // The browser registers (password typed decomposed) and saves.
  const registered = await inBrowser(
    async (v2, _v1, { baseUrl, signingSecret, username: u, password, text }) => {
      const c = v2.createClientV2({ baseUrl, signingSecret });
      const { session, recoveryCode } = await c.register(u, password);
      const saved = await session.save(text);
      return { saved, recoveryCode };
    },
    { username, password: passwordNFD, text: fromBrowser },
  );
  assert.equal(registered.saved.version, 1);

  // Go signs in under the lower-case spelling with the composed password.
  await clientOk(['login', '--username', lowercase]);
  const restored = await clientOk(['restore', '--username', lowercase]);
  assert.deepEqual(restored.stdout, Buffer.from(fromBrowser, 'utf8'), 'Go decrypts (and gunzips) exactly what the browser saved');
  const backups = (await clientOk(['backups', '--username', lowercase])).stdout.toString();
  assert.match(backups, new RegExp(registered.saved.backupId));

  // Go saves; the browser restores it and the older version.
  const fromGo = '{\n  "app": "dailyreps",\n  "note": "saved by Go \\u00fc",\n  "streak": 15\n}\n';
  writeFileSync(join(cliDir, 'from-go.json'), fromGo);
  const saved = await clientOk(['save', '--username', username, join(cliDir, 'from-go.json')]);
  assert.match(saved.stdout.toString(), /version 2\b/);

  const seen = await inBrowser(
    async (v2, _v1, { baseUrl, signingSecret, username: u, password }) => {
      const session = await v2.createClientV2({ baseUrl, signingSecret }).login(u, password);
      const latest = await session.restore();
      const first = await session.restore({ version: 1 });
      const versions = await session.versions();
      return { latest: latest.text, version: latest.version, rollbackFrom: latest.rollbackFrom ?? null, first: first.text, versions: versions.map((v) => v.version) };
    },
    { username: lowercase, password: passwordNFD },
  );
  assert.deepEqual(seen, { latest: fromGo, version: 2, rollbackFrom: null, first: fromBrowser, versions: [2, 1] });

  // The browser changes the password: Go's session ends with it, and Go
  // signs in with the new one.
  await inBrowser(
    async (v2, _v1, { baseUrl, signingSecret, username: u, password, next }) => {
      const session = await v2.createClientV2({ baseUrl, signingSecret }).login(u, password);
      await session.changePassword(password, next);
    },
    { username, password: passwordNFD, next: 'a new one for both' },
  );
  const refused = await client(['restore', '--username', lowercase]);
  assert.notEqual(refused.code, 0, 'the session Go kept ended with the password change');
  assert.equal(refused.stdout.length, 0);
  await clientOk(['login', '--username', lowercase], { password: 'a new one for both' });
  const oldest = await clientOk(['restore', '--username', lowercase, '--version', '1'], { password: 'a new one for both' });
  assert.deepEqual(oldest.stdout, Buffer.from(fromBrowser, 'utf8'));

  // Go's recovery of the browser's code, then the browser signs in with the Go-set password.
  await clientOk(['recover', '--username', username, '--recovery-code-file', join(cliDir, 'code-1')], {
    env: { DAILYREPS_RECOVERY_CODE: registered.recoveryCode, DAILYREPS_NEW_PASSWORD: 'set by Go' },
  });
  const newCode = readFileSync(join(cliDir, 'code-1'), 'utf8').trim();
  assert.notEqual(newCode, registered.recoveryCode);
  const afterRecovery = await inBrowser(
    async (v2, _v1, { baseUrl, signingSecret, username: u, code }) => {
      const c = v2.createClientV2({ baseUrl, signingSecret });
      const session = await c.login(u, 'set by Go');
      const text = (await session.restore()).text;
      // And the code Go was given works in the browser.
      const again = await c.recover(u, code, 'set by the browser');
      return { text, textAgain: (await again.session.restore({ version: 1 })).text };
    },
    { username, code: newCode },
  );
  assert.deepEqual(afterRecovery, { text: fromGo, textAgain: fromBrowser });
});

test('v1 backups upgraded by one client restore in the other', async () => {
  // Go: a v1 backup with two versions, upgraded by Go; the browser reads them.
  const a = uniqueUsername('go-up');
  const v1First = '{"saved":"under v1 by Go","n":1}';
  const v1Second = '{"saved":"under v1 by Go","n":2}';
  await clientOk(['register', '--protocol', 'v1', '--username', a.username]);
  for (const [i, text] of [v1First, v1Second].entries()) {
    writeFileSync(join(cliDir, `v1-${i}.json`), text);
    await clientOk(['save', '--protocol', 'v1', '--username', a.username, join(cliDir, `v1-${i}.json`)]);
  }
  await clientOk(['upgrade', '--username', a.username, '--recovery-code-file', join(cliDir, 'code-up')]);
  const goCode = readFileSync(join(cliDir, 'code-up'), 'utf8').trim();

  const read = await inBrowser(
    async (v2, v1, { baseUrl, signingSecret, username: u, password, code }) => {
      const c = v2.createClientV2({ baseUrl, signingSecret });
      const session = await c.login(u, password);
      const out = { newest: (await session.restore()).text, oldest: (await session.restore({ version: 1 })).text };
      out.saved = (await session.save('{"saved":"under v2 by the browser","n":3}')).version;
      // The v1 key is retired.
      try {
        await (await v1.createClient({ baseUrl, signingSecret }).account(u, password)).restore();
        out.v1 = 'still readable';
      } catch (e) {
        out.v1 = e.code;
      }
      // The recovery code Go showed opens the account here.
      out.recovered = (await (await c.recover(u, code, password)).session.restore({ version: 2 })).text;
      return out;
    },
    { username: a.lowercase, password: passwordNFD, code: goCode },
  );
  assert.deepEqual(read, { newest: v1Second, oldest: v1First, saved: 3, v1: 'not_found', recovered: v1Second });
  await clientOk(['login', '--username', a.username]);
  assert.equal((await clientOk(['restore', '--username', a.username])).stdout.toString(), '{"saved":"under v2 by the browser","n":3}');
  assert.equal((await clientOk(['restore', '--username', a.username, '--version', '1'])).stdout.toString(), v1First);

  // The browser: a v1 backup saved and upgraded in the page; Go reads it and saves on top.
  const b = uniqueUsername('web-up');
  const fromPage = '{"saved":"under v1 in the browser"}';
  const upgraded = await inBrowser(
    async (v2, v1, { baseUrl, signingSecret, username: u, password, text }) => {
      const legacy = await v1.createClient({ baseUrl, signingSecret }).account(u, password);
      await legacy.register();
      await legacy.save(text);
      const { backupId } = await v2.createClientV2({ baseUrl, signingSecret }).upgrade(u, password);
      return backupId;
    },
    { username: b.username, password: passwordNFC, text: fromPage },
  );
  await clientOk(['login', '--username', b.lowercase]);
  assert.match((await clientOk(['backups', '--username', b.lowercase])).stdout.toString(), new RegExp(upgraded));
  assert.equal((await clientOk(['restore', '--username', b.lowercase])).stdout.toString(), fromPage);
  writeFileSync(join(cliDir, 'on-top.json'), '{"saved":"by Go on top"}');
  await clientOk(['save', '--username', b.lowercase, join(cliDir, 'on-top.json')]);
  const onTop = await inBrowser(
    async (v2, _v1, { baseUrl, signingSecret, username: u, password }) => {
      const session = await v2.createClientV2({ baseUrl, signingSecret }).login(u, password);
      return [(await session.restore()).text, (await session.restore({ version: 1 })).text];
    },
    { username: b.username, password: passwordNFD },
  );
  assert.deepEqual(onTop, ['{"saved":"by Go on top"}', fromPage]);
});
