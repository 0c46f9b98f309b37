// The two reference clients against one running server: a backup saved by
// the Go client (the binary's `client` command) restores in the browser
// page, and one saved in the page restores with the Go client, byte for
// byte. Signing is on, so both sign, and the username needs JavaScript's
// own lower-casing rules (a dotted capital I, a final sigma), so both must
// derive the same ids from it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  RELAXED_LIMITS,
  act,
  assertError,
  assertOk,
  cleanUp,
  downloadText,
  fillCredentials,
  launchBrowser,
  openPage,
  scratch,
  serverBinary,
  startBackupServer,
} from './harness.mjs';

const secret = `interop-${randomBytes(16).toString('hex')}`;
const password = 'pässwort – correct horse';

let server;
let context;
let cliDir;
let cli;

before(async () => {
  const bin = await serverBinary();
  server = await startBackupServer(bin, 'interop', { ...RELAXED_LIMITS, DAILYREPS_HMAC_SECRET: secret });
  // A copy alone in its directory shows that the client command leaves
  // nothing beside the binary (PocketBase would create pb_data there).
  cliDir = mkdtempSync(join(scratch, 'cli-'));
  cli = join(cliDir, 'dailyreps-backup');
  copyFileSync(bin, cli);
  chmodSync(cli, 0o755);
  context = await launchBrowser();
}, { timeout: 15 * 60_000 });

after(cleanUp);

/** Runs `dailyreps-backup client ...` the way a script would. */
function client(args, { pass = password, input } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cli, ['client', ...args, '--server', server.url], {
      cwd: cliDir,
      env: { PATH: process.env.PATH, HOME: cliDir, DAILYREPS_PASSWORD: pass, DAILYREPS_HMAC_SECRET: secret },
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
  assert.equal(result.stderr, '', `client ${args.join(' ')} wrote to stderr`);
  return result;
}

test('a backup crosses between the Go client and the browser page, both ways', async () => {
  const suffix = randomBytes(3).toString('hex');
  const username = `İlayda-ΟΔΥΣΣΕΥΣ-${suffix}`;
  // What the web app derives every id from; typing it gives the same account.
  const lowercase = username.toLowerCase();
  assert.equal(lowercase, `i\u0307layda-οδυσσευς-${suffix}`);

  // Go saves; its whitespace, escapes and final newline must survive.
  const fromGo = '{\n  "app": "dailyreps",\n  "note": "Gr\\u00fc\\u00dfe 💪",\n  "workouts": [{"day": "2025-06-01", "reps": [20, 18, 15]}]\n}\n';
  const goFile = join(cliDir, 'export.json');
  writeFileSync(goFile, fromGo);
  await clientOk(['register', '--username', username]);
  const saved = await clientOk(['save', '--username', username, goFile]);
  assert.match(saved.stdout.toString(), /^saved version 1 at \d{4}-\d\d-\d\dT/);

  // The page restores it, under the lower-case spelling of the name.
  const page = await openPage(context, server);
  await page.getByTestId('signing-secret').fill(secret);
  await fillCredentials(page, lowercase, password);
  assertOk(await act(page, 'restore'), /Restored the latest backup \(version 1\)/);
  assert.equal(await downloadText(page), fromGo, 'the page decrypts exactly what Go encrypted');

  // The page saves, under the name as first typed; Go restores it.
  const fromPage = JSON.stringify({ app: 'dailyreps', note: 'saved in the browser ✓', streak: 15 }, null, 1);
  await fillCredentials(page, username, password);
  await page.getByTestId('document').fill(fromPage);
  assertOk(await act(page, 'save'), /Backed up as version 2\b/);

  const restoredFile = join(cliDir, 'restored.json');
  await clientOk(['restore', '--username', lowercase, restoredFile]);
  assert.deepEqual(readFileSync(restoredFile), Buffer.from(fromPage, 'utf8'), 'Go decrypts exactly what the page encrypted');
  const toStdout = await clientOk(['restore', '--username', username, '--version', '1']);
  assert.deepEqual(toStdout.stdout, Buffer.from(fromGo, 'utf8'));

  const versions = (await clientOk(['versions', '--username', username])).stdout.toString().trim().split('\n');
  assert.deepEqual(versions.map((line) => line.split(/\s+/)[0]), ['VERSION', '2', '1']);

  // A failure is one line on stderr and a non-zero status.
  const wrong = await client(['restore', '--username', username], { pass: 'not the password' });
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.stdout.length, 0);
  assert.match(wrong.stderr, /^[^\n]*client restore: .*404[^\n]*\n$/);

  // Go deletes; the page finds nothing any more.
  await clientOk(['delete', '--yes', '--username', username]);
  assertError(await act(page, 'restore'), 'not_found', /No backup found/);
  assert.deepEqual(page.problems, []);
  await page.close();

  assert.deepEqual(readdirSync(cliDir).sort(), ['dailyreps-backup', 'export.json', 'restored.json']);
});
