// Writes testdata/vectors-extra.json: protocol vectors in the shape of
// testdata/vectors.json (which mirrors the shared file and is not edited
// here) for usernames whose lower case only JavaScript's rules get right:
// a dotted capital I, and capital sigmas at the end of and inside words.
// Computed with node:crypto and username.toLowerCase(), exactly as the web
// app derives ids and keys; the Go and the JS tests both check them.
//
//   node web/tools/extra-vectors.mjs

import { createCipheriv, createHash, pbkdf2Sync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'testdata', 'vectors-extra.json');

const cases = [
  {
    // "i̇layda-οδυσσευς": U+0130 keeps its dot, and the last sigma is final.
    username: 'İlayda-ΟΔΥΣΣΕΥΣ',
    password: 'şifre ✓ 1234',
    plaintext: JSON.stringify({ workouts: [{ day: '2025-06-01', exercise: 'squats', reps: [12, 10] }], note: 'Καλημέρα' }),
    nonceHex: '1f2e3d4c5b6a798897a6b5c4',
  },
  {
    // "λογοσ.τεστ": the full stop is looked through, so that sigma is not final.
    username: 'ΛΟΓΟΣ.ΤΕΣΤ',
    password: 'Σ',
    plaintext: '{"streak":365}',
    nonceHex: 'a0a1a2a3a4a5a6a7a8a9aaab',
  },
];

const sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

const vectors = cases.map(({ username, password, plaintext, nonceHex }) => {
  const userId = sha256Hex(username.toLowerCase());
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(username.toLowerCase(), 'utf8'), 100_000, 32, 'sha256');
  const nonce = Buffer.from(nonceHex, 'hex');
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    username,
    password,
    plaintext,
    nonceHex,
    userId,
    storageKey: sha256Hex(userId + password),
    encryptionKeyHex: key.toString('hex'),
    data: JSON.stringify({ encrypted: sealed.toString('base64'), nonce: nonce.toString('base64') }),
  };
});

writeFileSync(out, `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${out}`);
