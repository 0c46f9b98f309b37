// Protocol v2 derivations (docs/protocol-v2.md) with Web Crypto only: the
// slow password step, the independent keys taken from it, the recovery code,
// key wrapping and the envelope whose associated data binds each backup
// version to its account. Dependency-free; the Go twin is client/v2crypto
// and testdata/protocol-v2-vectors.json pins both.

import { deriveUserId, fromBase64, toBase64 } from './dailyreps-backup.js';

export const MIN_ITERATIONS = 600_000;
export const SALT_BYTES = 16;
export const NONCE_BYTES = 12;
export const RECOVERY_CODE_BYTES = 20;
// A server chooses what it returns: bound what a small blob may inflate to.
export const MAX_PLAINTEXT_BYTES = 64 << 20;

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

/** The v2 account id is the v1 userId, so a v1 user upgrades in place. */
export const deriveAccountId = deriveUserId;

/**
 * The one slow step of a login: PBKDF2-HMAC-SHA-256 over the NFC form of the
 * password, so that input methods that compose accents differently agree.
 */
export async function deriveMaster(password, salt, iterations) {
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
    throw new RangeError(`iterations must be at least ${MIN_ITERATIONS}`);
  }
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) {
    throw new RangeError('the salt must be 16 bytes');
  }
  const base = await subtle.importKey('raw', utf8.encode(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base, 256);
  return new Uint8Array(bits);
}

/** HKDF-SHA-256, empty salt, info "dailyreps/v2/"+label, 32 bytes. */
export async function expand(ikm, label) {
  const base = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8.encode(`dailyreps/v2/${label}`) },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/** The key the server verifies and the key that wraps the data key. */
export async function passwordKeys(master) {
  return { authKey: await expand(master, 'auth'), wrapKey: await expand(master, 'wrap') };
}

/** The recovery code's counterparts of passwordKeys (160 random bits: no slow step). */
export async function recoveryKeys(code) {
  return { authKey: await expand(code, 'recovery-auth'), wrapKey: await expand(code, 'recovery-wrap') };
}

function join(...fields) {
  return utf8.encode(fields.join('\u0000'));
}

export function keyAD(label, accountId) {
  return join(`dailyreps/v2/${label}`, accountId);
}

export function backupAD(accountId, backupId, version, encoding) {
  return join('dailyreps/v2/backup', accountId, backupId, String(version), encoding);
}

async function aesKey(raw, usage) {
  return subtle.importKey('raw', raw, 'AES-GCM', false, [usage]);
}

/** AES-256-GCM: nonce ‖ ciphertext ‖ tag. A nonce is drawn when none is given. */
export async function sealBytes(keyBytes, plaintext, ad, nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))) {
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: ad }, await aesKey(keyBytes, 'encrypt'), plaintext);
  const out = new Uint8Array(NONCE_BYTES + ct.byteLength);
  out.set(nonce);
  out.set(new Uint8Array(ct), NONCE_BYTES);
  return out;
}

export async function openBytes(keyBytes, sealed, ad) {
  const pt = await subtle.decrypt(
    { name: 'AES-GCM', iv: sealed.subarray(0, NONCE_BYTES), additionalData: ad },
    await aesKey(keyBytes, 'decrypt'),
    sealed.subarray(NONCE_BYTES),
  );
  return new Uint8Array(pt);
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 bytes as 32 Crockford base32 characters in eight groups of four. */
export function formatRecoveryCode(code) {
  if (code.length !== RECOVERY_CODE_BYTES) throw new RangeError('a recovery code is 20 bytes');
  let acc = 0;
  let bits = 0;
  let out = '';
  for (const byte of code) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      if (out.length && out.replaceAll('-', '').length % 4 === 0) out += '-';
      out += CROCKFORD[(acc >> bits) & 31];
    }
  }
  return out;
}

/** Reads a code as typed: any case, spaces and hyphens, I/L for 1, O for 0. */
export function parseRecoveryCode(text) {
  const chars = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (chars.length !== 32) throw new RangeError('a recovery code has 32 letters and digits');
  const out = new Uint8Array(RECOVERY_CODE_BYTES);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const c of chars) {
    const v = CROCKFORD.indexOf(c);
    if (v < 0) throw new RangeError('a recovery code has only letters and digits');
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

async function pipe(bytes, stream) {
  const chunks = [];
  let total = 0;
  const reader = new Blob([bytes]).stream().pipeThrough(stream).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_PLAINTEXT_BYTES) {
      await reader.cancel();
      throw new RangeError('the backup expands past the plaintext limit');
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Encrypts one version of a backup under the data key. With `compress`, the
 * plaintext is gzipped first and kept so only when that is smaller.
 */
export async function sealBackup(dataKey, { accountId, backupId, version }, plaintext, { compress = false, nonce } = {}) {
  let body = plaintext;
  let encoding = 'none';
  if (compress) {
    const z = await pipe(plaintext, new CompressionStream('gzip'));
    if (z.length < plaintext.length) [body, encoding] = [z, 'gzip'];
  }
  const sealed = await sealBytes(dataKey, body, backupAD(accountId, backupId, version, encoding), nonce);
  const env = { v: 2, nonce: toBase64(sealed.subarray(0, NONCE_BYTES)), ct: toBase64(sealed.subarray(NONCE_BYTES)) };
  if (encoding === 'gzip') env.z = 'gzip';
  return JSON.stringify(env);
}

/** Decrypts data, which must have been sealed for exactly this account, backup and version. */
export async function openBackup(dataKey, { accountId, backupId, version }, data) {
  const env = JSON.parse(data);
  if (env?.v !== 2) throw new TypeError('not a v2 envelope');
  if (env.z !== undefined && env.z !== 'gzip') throw new TypeError('unknown encoding');
  const encoding = env.z === 'gzip' ? 'gzip' : 'none';
  const nonce = fromBase64(env.nonce);
  const ct = fromBase64(env.ct);
  const sealed = new Uint8Array(nonce.length + ct.length);
  sealed.set(nonce);
  sealed.set(ct, nonce.length);
  const plain = await openBytes(dataKey, sealed, backupAD(accountId, backupId, version, encoding));
  return encoding === 'gzip' ? pipe(plain, new DecompressionStream('gzip')) : plain;
}
