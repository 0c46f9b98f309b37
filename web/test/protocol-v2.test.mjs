// Protocol v2 derivations of pb_public/dailyreps-v2.js against the vectors
// in testdata/protocol-v2-vectors.json, which the Go package client/v2crypto
// also reproduces. node:crypto recomputes the key schedule independently.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fromBase64, fromHex, toBase64, toHex } from '../../pb_public/dailyreps-backup.js';
import {
  backupAD,
  deriveAccountId,
  deriveMaster,
  formatRecoveryCode,
  keyAD,
  openBackup,
  openBytes,
  parseRecoveryCode,
  passwordKeys,
  recoveryKeys,
  sealBackup,
  sealBytes,
} from '../../pb_public/dailyreps-v2.js';

const here = dirname(fileURLToPath(import.meta.url));
const { vectors } = JSON.parse(readFileSync(join(resolve(here, '..', '..'), 'testdata', 'protocol-v2-vectors.json'), 'utf8'));
const utf8 = new TextEncoder();

test('there are vectors to check', () => assert.ok(vectors.length >= 3));

for (const [i, v] of vectors.entries()) {
  test(`vector ${i}: ${v.comment}`, async () => {
    assert.equal(await deriveAccountId(v.username), v.accountId);

    const master = await deriveMaster(v.password, fromHex(v.saltHex), v.iterations);
    assert.equal(toHex(master), v.masterHex);
    const ref = pbkdf2Sync(Buffer.from(v.password.normalize('NFC'), 'utf8'), fromHex(v.saltHex), v.iterations, 32, 'sha256');
    assert.equal(ref.toString('hex'), v.masterHex, 'node:crypto disagrees on the slow step');

    const { authKey, wrapKey } = await passwordKeys(master);
    assert.equal(toHex(authKey), v.authKeyHex);
    assert.equal(toHex(wrapKey), v.wrapKeyHex);
    const hk = (label) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `dailyreps/v2/${label}`, 32)).toString('hex');
    assert.equal(hk('auth'), v.authKeyHex, 'node:crypto disagrees on HKDF');
    assert.notEqual(v.authKeyHex, v.wrapKeyHex);

    const code = fromHex(v.recoveryCodeHex);
    assert.equal(formatRecoveryCode(code), v.recoveryCode);
    assert.equal(toHex(parseRecoveryCode(v.recoveryCode.toLowerCase().replaceAll('-', ' '))), v.recoveryCodeHex);
    const rec = await recoveryKeys(code);
    assert.equal(toHex(rec.authKey), v.recoveryAuthKeyHex);
    assert.equal(toHex(rec.wrapKey), v.recoveryWrapKeyHex);

    const dataKey = fromHex(v.dataKeyHex);
    const wrapped = await sealBytes(wrapKey, dataKey, keyAD('data-key', v.accountId), fromHex(v.nonceHex.dataKey));
    assert.equal(toBase64(wrapped), v.wrappedKey);
    const rWrapped = await sealBytes(rec.wrapKey, dataKey, keyAD('data-key-recovery', v.accountId), fromHex(v.nonceHex.dataKeyRecovery));
    assert.equal(toBase64(rWrapped), v.recoveryWrappedKey);
    assert.equal(toHex(await openBytes(dataKey, fromBase64(v.wrappedLegacyKey), keyAD('legacy-key', v.accountId))), v.legacyKeyHex);

    const encoding = v.compress ? 'gzip' : 'none';
    assert.equal(toHex(backupAD(v.accountId, v.backupId, v.version, encoding)), v.backupAdHex);
    const place = { accountId: v.accountId, backupId: v.backupId, version: v.version };
    const plain = new TextDecoder().decode(await openBackup(dataKey, place, v.data));
    assert.equal(plain, v.plaintext);
    if (!v.compress) {
      const data = await sealBackup(dataKey, place, utf8.encode(v.plaintext), { nonce: fromHex(v.nonceHex.backup) });
      assert.equal(data, v.data);
    }
    await assert.rejects(openBackup(dataKey, { ...place, version: v.version + 1 }, v.data), 'a version relabelled by the server must not open');
  });
}

test('compression is used only when it makes the data smaller, and round-trips', async () => {
  const key = new Uint8Array(32).fill(3);
  const place = { accountId: 'a', backupId: 'b', version: 1 };
  const text = utf8.encode('{"reps":1}'.repeat(500));
  const data = await sealBackup(key, place, text, { compress: true });
  assert.equal(JSON.parse(data).z, 'gzip');
  assert.deepEqual(await openBackup(key, place, data), text);
  const tiny = await sealBackup(key, place, utf8.encode('{}'), { compress: true });
  assert.equal(JSON.parse(tiny).z, undefined);
});
