// Protocol v2 derivations (docs/protocol-v2.md) with Web Crypto only: the
// slow password step, the independent keys taken from it, the recovery code,
// key wrapping and the envelope whose associated data binds each backup
// version to its account. Dependency-free; the Go twin is client/v2crypto
// and testdata/protocol-v2-vectors.json pins both.

import {
  BackupError,
  ERROR_CODES,
  createTransport,
  deriveKey,
  deriveStorageKey,
  deriveUserId,
  fromBase64,
  open,
  toBase64,
  toHex,
} from './dailyreps-backup.js';

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

// ---------------------------------------------------------------------------
// The client: accounts, sessions and backups over the /api/v2 routes

/**
 * The error codes of ERROR_CODES, and those only protocol v2 gives. The v1
 * meanings stay: 'unauthorized' is a refused request signature, 'not_found'
 * a missing backup (or, at an upgrade, no v1 backup under that username and
 * password).
 */
export { BackupError };

export const ERROR_CODES_V2 = Object.freeze({
  ...ERROR_CODES,
  auth: 'auth', // 401 on a signed-in call: the session ended or expired; sign in again
  wrongPassword: 'wrong_password', // 401 at login or recovery, or a password the session's key rejects
  nameTaken: 'name_taken', // 409: the username has an account already
});

const V2_MESSAGES = {
  auth: 'Sign in again.',
  wrong_password: 'Wrong username or password.',
  name_taken: 'This username is already taken.',
};

// A server chooses the iterations a client runs: past this, a login would
// hang a phone for minutes, so the answer is refused as unexpected.
export const MAX_ITERATIONS = 20_000_000;
const KDF_NAME = 'PBKDF2-SHA256';
const BACKUP_ID = /^[0-9a-f]{32}$/;
// The signature check answers 401 too; its sentences say so, and such a
// refusal keeps the v1 code 'unauthorized' rather than asking to sign in.
const SIGNATURE_REFUSAL = /signature|timestamp|already received/i;
// The server's one sentence for a key it refuses (login, recovery, and the
// current password at a password change or an account deletion).
const WRONG_KEY = /wrong username or password/i;
const UPGRADE_ATTEMPTS = 3;
const UPGRADE_RETRY_MS = [1000, 3000];
const MEMORY_PREFIX = 'dailyreps-v2-seen';
// What every v2 client of this page signed, by second: two clients signing
// in to one account at once send the same prelogin, which the server would
// otherwise refuse the second time as a replay.
const SIGNED = new Map();

const hex = (bytes) => toHex(bytes);
const randomBytes = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

function checkText(value, what) {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
  return value;
}

function checkBackupId(id) {
  if (typeof id !== 'string' || !BACKUP_ID.test(id)) throw new TypeError('backupId must be 32 lowercase hex characters');
  return id;
}

function checkVersion(version) {
  if (!(Number.isSafeInteger(version) && version > 0)) throw new TypeError('version must be a positive integer');
  return version;
}

/** A BackupError like `error` under another code; the server's sentence is kept. */
function recode(error, code) {
  return new BackupError(error.serverMessage ?? V2_MESSAGES[code] ?? error.message, {
    status: error.status,
    code,
    retryAfter: error.retryAfter,
    serverTime: error.serverTime,
    currentVersion: error.currentVersion,
    serverMessage: error.serverMessage,
    cause: error,
  });
}

function unexpected(what, cause) {
  return new BackupError(`The backup server sent an unexpected response (${what}).`, { status: 200, code: ERROR_CODES.unexpected, cause });
}

function corrupt(message, cause) {
  return new BackupError(message, { code: ERROR_CODES.corrupt, cause });
}

/** onProgress, made safe: a throwing callback must not abort a backup. */
function progressReporter(callback) {
  const report = (event) => {
    if (typeof callback !== 'function') return;
    try {
      callback(event);
    } catch {
      // ignored on purpose
    }
  };
  report.active = typeof callback === 'function';
  return report;
}

// PBKDF2 in Web Crypto runs as one call that reports nothing. Progress is
// therefore estimated from this device's measured speed (iterations per
// millisecond), learned from a short run the first time and refined by every
// derivation, and reported as the time passes; the last event, done ===
// total, comes when the key is there.
let pbkdf2Rate = 0;
const CALIBRATION_ITERATIONS = 6000;
const PROGRESS_INTERVAL_MS = 100;

async function measurePbkdf2Rate() {
  const s = globalThis.crypto.subtle;
  const base = await s.importKey('raw', randomBytes(16), 'PBKDF2', false, ['deriveBits']);
  const t0 = performance.now();
  await s.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: randomBytes(SALT_BYTES), iterations: CALIBRATION_ITERATIONS }, base, 256);
  return CALIBRATION_ITERATIONS / Math.max(performance.now() - t0, 0.1);
}

/**
 * deriveMaster with progress events {phase: 'derive', done, total} in
 * iterations. The result is deriveMaster's exactly: nothing is split.
 */
export async function deriveMasterWithProgress(password, salt, iterations, onProgress) {
  return deriveReporting(password, salt, iterations, progressReporter(onProgress));
}

async function deriveReporting(password, salt, iterations, progress) {
  if (!progress.active) return deriveMaster(password, salt, iterations);
  progress({ phase: 'derive', done: 0, total: iterations });
  if (!pbkdf2Rate) pbkdf2Rate = await measurePbkdf2Rate();
  const t0 = performance.now();
  const timer = setInterval(() => {
    const done = Math.min(iterations - 1, Math.floor(pbkdf2Rate * (performance.now() - t0)));
    progress({ phase: 'derive', done, total: iterations });
  }, PROGRESS_INTERVAL_MS);
  try {
    const master = await deriveMaster(password, salt, iterations);
    pbkdf2Rate = iterations / Math.max(performance.now() - t0, 0.1);
    progress({ phase: 'derive', done: iterations, total: iterations });
    return master;
  } finally {
    clearInterval(timer);
  }
}

function makeKdf(iterations, salt = randomBytes(SALT_BYTES)) {
  return { name: KDF_NAME, iterations, salt: toBase64(salt) };
}

/** The kdf object of a server's answer, checked before the slow step runs on it. */
function parseKdf(kdf) {
  if (kdf === null || typeof kdf !== 'object' || kdf.name !== KDF_NAME) throw unexpected('kdf');
  if (!Number.isSafeInteger(kdf.iterations) || kdf.iterations < MIN_ITERATIONS || kdf.iterations > MAX_ITERATIONS) {
    throw unexpected('kdf iterations');
  }
  let salt;
  try {
    salt = fromBase64(kdf.salt);
  } catch (cause) {
    throw unexpected('kdf salt', cause);
  }
  if (salt.length !== SALT_BYTES) throw unexpected('kdf salt');
  return { kdf: { name: KDF_NAME, iterations: kdf.iterations, salt: kdf.salt }, salt };
}

/** Everything a password gives: the slow step, then the two independent keys. */
async function passwordMaterial(password, kdf, salt, progress) {
  const master = await deriveReporting(password, salt, kdf.iterations, progress);
  return passwordKeys(master);
}

async function wrapDataKey(wrapKey, dataKey, accountId) {
  return toBase64(await sealBytes(wrapKey, dataKey, keyAD('data-key', accountId)));
}

/** Opens a wrapped key; a tag that does not verify means a wrong key (or a server's forgery). */
async function unwrap(keyBytes, wrapped, label, accountId) {
  let sealed;
  try {
    sealed = fromBase64(wrapped);
  } catch (cause) {
    throw unexpected(label, cause);
  }
  if (sealed.length <= NONCE_BYTES) throw unexpected(label);
  return openBytes(keyBytes, sealed, keyAD(label, accountId));
}

/** A new recovery code and the two fields the server keeps of it. */
async function newRecovery(dataKey, accountId) {
  const code = randomBytes(RECOVERY_CODE_BYTES);
  const keys = await recoveryKeys(code);
  const recoveryWrappedKey = toBase64(await sealBytes(keys.wrapKey, dataKey, keyAD('data-key-recovery', accountId)));
  return { code, recoveryAuth: hex(keys.authKey), recoveryWrappedKey };
}

/** The memory of the highest version seen per backup, behind get/set. */
function defaultMemory() {
  try {
    const ls = globalThis.localStorage;
    if (ls && typeof ls.getItem === 'function') {
      ls.getItem(MEMORY_PREFIX); // throws where storage is blocked
      return { get: (k) => ls.getItem(k), set: (k, v) => ls.setItem(k, String(v)) };
    }
  } catch {
    // storage blocked (sandboxed frame, privacy settings): keep it in memory
  }
  return new Map();
}

/** Reads the whole body, reporting {phase: 'download', done, total} in bytes. */
async function readBodyWithProgress(response, progress) {
  const length = Number(response.headers.get('Content-Length'));
  const total = Number.isSafeInteger(length) && length > 0 ? length : undefined;
  if (!progress.active || !response.body) return response.text();
  progress({ phase: 'download', done: 0, total });
  const reader = response.body.getReader();
  const chunks = [];
  let done = 0;
  for (;;) {
    const part = await reader.read();
    if (part.done) break;
    chunks.push(part.value);
    done += part.value.length;
    progress({ phase: 'download', done, total });
  }
  const bytes = new Uint8Array(done);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * @typedef {object} ClientV2Options
 * @property {string} [baseUrl] the backup server; defaults to the page's origin in a browser
 * @property {string|Uint8Array} [signingSecret] the operator's request signing secret, when the server requires one
 * @property {typeof fetch} [fetch] a fetch implementation (tests, custom agents)
 * @property {number} [timeoutMs] per-request timeout (default 120 s)
 * @property {() => number} [now] clock in milliseconds (tests)
 * @property {{get(key: string): any, set(key: string, value: any): any}} [memory] where the
 *   highest version seen per backup is kept, for rollback warnings; localStorage when there is one
 */

/**
 * A protocol v2 client for one backup server.
 * @param {ClientV2Options} [options]
 */
export function createClientV2({ baseUrl, signingSecret, fetch, timeoutMs, now, memory } = {}) {
  const transport = createTransport({ baseUrl, signingSecret, fetch, timeoutMs, now, usedSignatures: SIGNED, retryReplay: true });
  const seen = memory ?? defaultMemory();
  if (typeof seen.get !== 'function' || typeof seen.set !== 'function') throw new TypeError('memory must have get(key) and set(key, value)');

  // Upgrades whose answer never came, by accountId and v1 key: a repeated
  // call sends the very same material, which the server accepts again, so
  // the recovery code shown at the end is the one it stored.
  const pendingUpgrades = new Map();
  let infoCache;

  /**
   * send, with the v2 meaning of a 401 and a 409 for this call:
   * `unauthorized` is 'auth' (a session) or 'wrong_password' (a login).
   */
  async function call(method, path, { body, query, headers, on401 = ERROR_CODES_V2.auth, on409 } = {}) {
    try {
      return await transport.send(method, path, { body, query, headers });
    } catch (error) {
      if (!(error instanceof BackupError)) throw error;
      const said = error.serverMessage ?? '';
      if (error.status === 401 && WRONG_KEY.test(said)) throw recode(error, ERROR_CODES_V2.wrongPassword);
      if (error.status === 401 && !SIGNATURE_REFUSAL.test(said)) throw recode(error, on401);
      if (error.status === 409 && on409) throw recode(error, on409);
      throw error;
    }
  }

  async function callJson(method, path, options) {
    return transport.json(await call(method, path, options));
  }

  async function serverIterations() {
    const info = await client.info();
    const n = info?.kdf?.iterations;
    return Number.isSafeInteger(n) && n >= MIN_ITERATIONS && n <= MAX_ITERATIONS ? n : MIN_ITERATIONS;
  }

  function checkToken(body) {
    if (typeof body.token !== 'string' || body.token === '') throw unexpected('token');
    return { token: body.token, expiresAt: body.expiresAt };
  }

  async function memoryGet(key) {
    try {
      const n = Number(await seen.get(key));
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  async function memoryRaise(key, version) {
    if (!(Number.isSafeInteger(version) && version > 0)) return;
    try {
      if ((await memoryGet(key)) < version) await seen.set(key, version);
    } catch {
      // a full or blocked storage costs the warning, never the backup
    }
  }

  const client = {
    /** GET /api/info: limits, protocols and the current kdf. Cached after the first answer. */
    async info() {
      if (!infoCache) infoCache = await transport.json(await transport.send('GET', '/api/info'));
      return infoCache;
    },

    /** The clock correction in seconds learned from the server (signing only). */
    get clockOffset() {
      return transport.clockOffset;
    },

    /**
     * Creates an account. The recovery code is shown to the user once: the
     * server keeps only what it cannot read it from.
     * @returns {Promise<{session: object, recoveryCode: string}>}
     */
    async register(username, password, { inviteCode, onProgress, iterations } = {}) {
      checkText(username, 'username');
      checkText(password, 'password');
      if (iterations !== undefined && !(Number.isSafeInteger(iterations) && iterations >= MIN_ITERATIONS)) {
        throw new TypeError(`iterations must be an integer of at least ${MIN_ITERATIONS}`);
      }
      const progress = progressReporter(onProgress);
      const accountId = await deriveAccountId(username);
      const kdf = makeKdf(iterations ?? (await serverIterations()));
      const { authKey, wrapKey } = await passwordMaterial(password, kdf, fromBase64(kdf.salt), progress);
      const dataKey = randomBytes(32);
      const wrappedKey = await wrapDataKey(wrapKey, dataKey, accountId);
      const recovery = await newRecovery(dataKey, accountId);
      const body = await callJson('POST', '/api/v2/register', {
        body: { accountId, kdf, auth: hex(authKey), wrappedKey, recoveryAuth: recovery.recoveryAuth, recoveryWrappedKey: recovery.recoveryWrappedKey },
        headers: inviteCode ? { 'X-Invite-Code': inviteCode } : undefined,
        on409: ERROR_CODES_V2.nameTaken,
      });
      const session = createSession({ accountId, username, ...checkToken(body), dataKey, authKey, kdf, wrappedKey });
      return { session, recoveryCode: formatRecoveryCode(recovery.code) };
    },

    /**
     * Signs in: prelogin, the slow step, login, unwrap. An account below the
     * server's iterations is raised on the way, with the same password.
     */
    async login(username, password, { onProgress } = {}) {
      checkText(username, 'username');
      checkText(password, 'password');
      const progress = progressReporter(onProgress);
      const accountId = await deriveAccountId(username);
      const pre = await callJson('POST', '/api/v2/prelogin', { body: { accountId } });
      const { kdf, salt } = parseKdf(pre.kdf);
      const { authKey, wrapKey } = await passwordMaterial(password, kdf, salt, progress);
      const body = await callJson('POST', '/api/v2/login', { body: { accountId, auth: hex(authKey) }, on401: ERROR_CODES_V2.wrongPassword });
      const tokens = checkToken(body);
      if (typeof body.wrappedKey !== 'string') throw unexpected('wrappedKey');
      let dataKey;
      try {
        dataKey = await unwrap(wrapKey, body.wrappedKey, 'data-key', accountId);
      } catch (cause) {
        throw new BackupError('The account key from the server does not open with this password.', { code: ERROR_CODES.decrypt, cause });
      }
      const state = { accountId, username, ...tokens, dataKey, authKey, kdf, wrappedKey: body.wrappedKey };
      const raise = body.kdfUpgrade?.iterations;
      if (Number.isSafeInteger(raise) && raise > kdf.iterations && raise <= MAX_ITERATIONS) {
        try {
          await changeKeys(state, authKey, password, raise, progress);
        } catch {
          // The login stands: the raise is tried again at the next one. Had
          // it been applied with the answer lost, the next call asks to
          // sign in again and that login finds the new parameters.
        }
      }
      return createSession(state);
    },

    /**
     * Sets a new password with the recovery code. Every backup stays; the
     * used code is replaced by the new one returned.
     * @returns {Promise<{session: object, recoveryCode: string}>}
     */
    async recover(username, recoveryCode, newPassword, { onProgress } = {}) {
      checkText(username, 'username');
      checkText(newPassword, 'newPassword');
      let code;
      try {
        code = parseRecoveryCode(checkText(recoveryCode, 'recoveryCode'));
      } catch (cause) {
        throw new BackupError('A recovery code has 32 letters and digits, in groups of four.', { code: ERROR_CODES.invalid, cause });
      }
      const progress = progressReporter(onProgress);
      const accountId = await deriveAccountId(username);
      const used = await recoveryKeys(code);
      const usedAuth = hex(used.authKey);
      const pre = await callJson('POST', '/api/v2/recover/key', {
        body: { accountId, recoveryAuth: usedAuth },
        on401: ERROR_CODES_V2.wrongPassword,
      });
      if (typeof pre.recoveryWrappedKey !== 'string') throw unexpected('recoveryWrappedKey');
      let dataKey;
      try {
        dataKey = await unwrap(used.wrapKey, pre.recoveryWrappedKey, 'data-key-recovery', accountId);
      } catch (cause) {
        throw new BackupError('The account key from the server does not open with this recovery code.', { code: ERROR_CODES.decrypt, cause });
      }
      const kdf = makeKdf(await serverIterations());
      const { authKey, wrapKey } = await passwordMaterial(newPassword, kdf, fromBase64(kdf.salt), progress);
      const wrappedKey = await wrapDataKey(wrapKey, dataKey, accountId);
      const recovery = await newRecovery(dataKey, accountId);
      const body = await callJson('POST', '/api/v2/recover', {
        body: {
          accountId,
          recoveryAuth: usedAuth,
          new: { kdf, auth: hex(authKey), wrappedKey },
          recovery: { recoveryAuth: recovery.recoveryAuth, recoveryWrappedKey: recovery.recoveryWrappedKey },
        },
        on401: ERROR_CODES_V2.wrongPassword,
      });
      const session = createSession({ accountId, username, ...checkToken(body), dataKey, authKey, kdf, wrappedKey });
      return { session, recoveryCode: formatRecoveryCode(recovery.code) };
    },

    /**
     * Moves a v1 user's backup (the one under this password) into a new v2
     * account, keeping every version readable. Resumable: a network failure
     * is retried with the same material, and a later call with the same
     * username and password on this client resends it.
     * @returns {Promise<{session: object, recoveryCode: string, backupId: string}>}
     */
    async upgrade(username, password, { onProgress } = {}) {
      checkText(username, 'username');
      checkText(password, 'password');
      const progress = progressReporter(onProgress);
      const v1 = await v1Material(username, password);
      const pendingKey = `${v1.userId} ${v1.storageKey}`;
      let material = pendingUpgrades.get(pendingKey);
      if (!material) {
        const kdf = makeKdf(await serverIterations());
        const [{ authKey, wrapKey }, legacyKey] = await Promise.all([
          passwordMaterial(password, kdf, fromBase64(kdf.salt), progress),
          v1.legacyKey(),
        ]);
        const dataKey = randomBytes(32);
        const accountId = v1.userId;
        const recovery = await newRecovery(dataKey, accountId);
        material = {
          dataKey,
          authKey,
          kdf,
          recoveryCode: recovery.code,
          body: {
            userId: v1.userId,
            storageKey: v1.storageKey,
            backupId: hex(randomBytes(16)),
            kdf,
            auth: hex(authKey),
            wrappedKey: await wrapDataKey(wrapKey, dataKey, accountId),
            recoveryAuth: recovery.recoveryAuth,
            recoveryWrappedKey: recovery.recoveryWrappedKey,
            wrappedLegacyKey: toBase64(await sealBytes(dataKey, legacyKey, keyAD('legacy-key', accountId))),
          },
        };
        pendingUpgrades.set(pendingKey, material);
      } else {
        progress({ phase: 'derive', done: 1, total: 1 });
      }
      const body = await sendUpgrade(material.body, pendingKey);
      const session = createSession({
        accountId: v1.userId,
        username,
        ...checkToken(body),
        dataKey: material.dataKey,
        authKey: material.authKey,
        kdf: material.kdf,
        wrappedKey: material.body.wrappedKey,
      });
      return { session, recoveryCode: formatRecoveryCode(material.recoveryCode), backupId: material.body.backupId };
    },
  };

  /** The v1 credentials of a username and password, and the v1 key on demand. */
  async function v1Material(username, password) {
    const userId = await deriveUserId(username);
    const storageKey = await deriveStorageKey(userId, password);
    const legacyKey = async () => {
      const key = await deriveKey(username, password, { extractable: true });
      return new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', key));
    };
    return { userId, storageKey, legacyKey };
  }

  /**
   * POST /api/v2/upgrade, repeated on a network failure with the same body.
   * The material is forgotten once the server has answered for good.
   */
  async function sendUpgrade(body, pendingKey) {
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await callJson('POST', '/api/v2/upgrade', { body, on401: ERROR_CODES_V2.wrongPassword, on409: ERROR_CODES_V2.nameTaken });
        pendingUpgrades.delete(pendingKey);
        return answer;
      } catch (error) {
        const transient = error?.code === ERROR_CODES.network;
        if (transient && attempt < UPGRADE_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, UPGRADE_RETRY_MS[attempt - 1]));
          continue;
        }
        // Kept for a later call after a failure that may not be final (no
        // answer, rate limit, a server in trouble); forgotten otherwise.
        const final = !transient && ![429, 503].includes(error?.status) && !(error?.status >= 500);
        if (final) pendingUpgrades.delete(pendingKey);
        throw error;
      }
    }
  }

  /** A new salt (and iterations) for the same data key: a password change or a kdf raise. */
  async function changeKeys(state, currentAuthKey, newPassword, iterations, progress) {
    const kdf = makeKdf(iterations);
    const { authKey, wrapKey } = await passwordMaterial(newPassword, kdf, fromBase64(kdf.salt), progress);
    const wrappedKey = await wrapDataKey(wrapKey, state.dataKey, state.accountId);
    const body = await callJson('POST', '/api/v2/password', {
      body: { auth: hex(currentAuthKey), new: { kdf, auth: hex(authKey), wrappedKey } },
      headers: { Authorization: `Bearer ${state.token}` },
    });
    Object.assign(state, checkToken(body), { authKey, kdf, wrappedKey });
  }

  /**
   * Proves a password against the session's own wrapped key, before the
   * server sees anything: a mistyped password is told apart from an ended
   * session without spending the server's failed-attempt budget.
   */
  async function checkPasswordLocally(state, password, progress) {
    const { authKey, wrapKey } = await passwordMaterial(password, state.kdf, fromBase64(state.kdf.salt), progress);
    try {
      await unwrap(wrapKey, state.wrappedKey, 'data-key', state.accountId);
    } catch (cause) {
      throw new BackupError(V2_MESSAGES.wrong_password, { code: ERROR_CODES_V2.wrongPassword, cause });
    }
    return authKey;
  }

  function createSession(state) {
    const versionsKnown = new Map(); // backupId -> newest version this session knows of
    // The account's backup when the last listing showed exactly one: saves
    // and restores without a backupId then need no listing each time.
    let sole;
    const memoryKey = (backupId) => `${MEMORY_PREFIX}:${state.accountId}:${backupId}`;

    function bearer() {
      if (!state.token) throw new BackupError('Signed out; sign in again.', { code: ERROR_CODES_V2.auth });
      return { Authorization: `Bearer ${state.token}` };
    }

    async function authed(method, path, options = {}) {
      return call(method, path, { ...options, headers: { ...options.headers, ...bearer() } });
    }

    async function list() {
      const body = await transport.json(await authed('GET', '/api/v2/backups'));
      if (!Array.isArray(body.backups)) throw unexpected('backups');
      sole = body.backups.length === 1 && BACKUP_ID.test(body.backups[0]?.id) ? body.backups[0].id : undefined;
      for (const b of body.backups) {
        if (typeof b?.id === 'string' && Number.isSafeInteger(b.version)) {
          versionsKnown.set(b.id, b.version);
          await memoryRaise(memoryKey(b.id), b.version);
        }
      }
      return body.backups;
    }

    /** The backup meant: the one named, else the account's only one. */
    async function which(backupId, { create = false } = {}) {
      if (backupId !== undefined) return checkBackupId(backupId);
      if (sole) return sole;
      const backups = await list();
      if (backups.length === 1) return checkBackupId(backups[0].id);
      if (backups.length === 0) {
        if (create) return hex(randomBytes(16));
        throw new BackupError('This account has no backup yet.', { status: 404, code: ERROR_CODES.notFound });
      }
      throw new TypeError('the account has several backups: pass backupId');
    }

    async function newestKnown(backupId) {
      if (!versionsKnown.has(backupId)) await list();
      return versionsKnown.get(backupId) ?? 0;
    }

    const session = {
      get accountId() {
        return state.accountId;
      },
      get username() {
        return state.username;
      },
      /** When the server ends this session (as it sent it); sign in again after. */
      get expiresAt() {
        return state.expiresAt;
      },

      /** @returns {Promise<Array<{id: string, version: number, size: number, updatedAt: string}>>} */
      async backups() {
        return list();
      },

      /**
       * Encrypts and stores a new version. The version number is part of the
       * ciphertext's associated data, so it is chosen before sending: the
       * newest known + 1, and once more after a 412 with the server's newest.
       * @param {string|any} document a string is stored as is, anything else as JSON
       * @param {{backupId?: string, compress?: 'auto'|boolean, onProgress?: Function}} [options]
       */
      async save(document, { backupId, compress = 'auto', onProgress } = {}) {
        const text = typeof document === 'string' ? document : JSON.stringify(document);
        if (typeof text !== 'string') throw new TypeError('document must be a string or a JSON-serialisable value');
        if (![true, false, 'auto'].includes(compress)) throw new TypeError("compress must be 'auto', true or false");
        if (compress === true && typeof CompressionStream !== 'function') {
          throw new BackupError('Compression is not available here.', { code: ERROR_CODES.unsupported });
        }
        const progress = progressReporter(onProgress);
        const id = await which(backupId, { create: true });
        const plaintext = utf8.encode(text);
        const zip = compress !== false && typeof CompressionStream === 'function';
        let version = (await newestKnown(id)) + 1;
        for (let attempt = 0; ; attempt++) {
          const data = await sealBackup(state.dataKey, { accountId: state.accountId, backupId: id, version }, plaintext, { compress: zip });
          progress({ phase: 'upload', done: 0, total: data.length });
          try {
            const body = await transport.json(await authed('PUT', `/api/v2/backups/${id}`, { body: { version, data } }));
            progress({ phase: 'upload', done: data.length, total: data.length });
            const saved = Number.isSafeInteger(body.version) ? body.version : version;
            versionsKnown.set(id, saved);
            // Saved to another backup than the only one: there may be two now.
            sole = backupId === undefined || id === sole ? id : undefined;
            await memoryRaise(memoryKey(id), saved);
            return { backupId: id, version: saved, updatedAt: body.updatedAt };
          } catch (error) {
            if (error?.code !== ERROR_CODES.stale || attempt > 0) throw error;
            // Another device saved in between: the new version goes on top.
            versionsKnown.delete(id);
            version = (error.currentVersion ?? (await newestKnown(id))) + 1;
          }
        }
      },

      /**
       * Downloads and decrypts the newest version, or the one asked for.
       * rollbackFrom is set when "the newest" is older than a version this
       * device has seen: the server (or someone in its place) rolled it back.
       */
      async restore({ backupId, version, onProgress } = {}) {
        if (version !== undefined) checkVersion(version);
        const progress = progressReporter(onProgress);
        const id = await which(backupId);
        let response;
        try {
          response = await authed('GET', `/api/v2/backups/${id}`, { query: { version } });
        } catch (error) {
          if (error?.code === ERROR_CODES.notFound && sole === id) sole = undefined; // deleted elsewhere
          throw error;
        }
        let body;
        try {
          body = JSON.parse(await readBodyWithProgress(response, progress));
        } catch (cause) {
          throw unexpected('body', cause);
        }
        if (body === null || typeof body !== 'object' || typeof body.data !== 'string' || !Number.isSafeInteger(body.version)) {
          throw unexpected('backup');
        }
        if (version !== undefined && body.version !== version) throw unexpected('another version than asked for');
        const plain = await openVersion(id, body);
        let text;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
        } catch (cause) {
          throw corrupt('The decrypted backup is not valid UTF-8 text.', cause);
        }
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const result = { document: parsed, text, version: body.version, updatedAt: body.updatedAt };
        const key = memoryKey(id);
        if (version === undefined) {
          const highest = Math.max(await memoryGet(key), versionsKnown.get(id) ?? 0);
          if (highest > body.version) result.rollbackFrom = highest;
          else versionsKnown.set(id, body.version);
        }
        await memoryRaise(key, body.version);
        return result;
      },

      /** @returns {Promise<Array<{version: number, updatedAt: string, size: number}>>} newest first */
      async versions({ backupId } = {}) {
        const id = await which(backupId);
        const body = await transport.json(await authed('GET', `/api/v2/backups/${id}/versions`));
        if (!Array.isArray(body.versions)) throw unexpected('versions');
        const newest = body.versions.reduce((n, v) => (Number.isSafeInteger(v?.version) && v.version > n ? v.version : n), 0);
        await memoryRaise(memoryKey(id), newest);
        return body.versions;
      },

      /** Removes a backup and all its versions. */
      async deleteBackup({ backupId } = {}) {
        const id = await which(backupId);
        await authed('DELETE', `/api/v2/backups/${id}`);
        versionsKnown.delete(id);
        if (sole === id) sole = undefined;
        return true;
      },

      /** GET /api/v2/account: usage, quota and activity. */
      async account() {
        return transport.json(await authed('GET', '/api/v2/account'));
      },

      /**
       * Adopts another v1 backup of a username (under an older password) into
       * this account: it becomes one more backup, its versions readable.
       * @returns {Promise<{backupId: string}>}
       */
      async adoptV1(username, oldPassword) {
        checkText(username, 'username');
        checkText(oldPassword, 'oldPassword');
        bearer();
        const v1 = await v1Material(username, oldPassword);
        if (v1.userId !== state.accountId) throw new TypeError('the v1 backup must be of this account\'s username');
        const pendingKey = `${v1.userId} ${v1.storageKey}`;
        let material = pendingUpgrades.get(pendingKey);
        if (!material) {
          const legacyKey = await v1.legacyKey();
          // The new-account members must be well formed but are not used
          // for an account that exists: a fresh recovery of the same data
          // key fills them, so that nothing inconsistent could ever be stored.
          const unused = await newRecovery(state.dataKey, state.accountId);
          material = {
            body: {
              userId: v1.userId,
              storageKey: v1.storageKey,
              backupId: hex(randomBytes(16)),
              kdf: state.kdf,
              auth: hex(state.authKey),
              wrappedKey: state.wrappedKey,
              recoveryAuth: unused.recoveryAuth,
              recoveryWrappedKey: unused.recoveryWrappedKey,
              wrappedLegacyKey: toBase64(await sealBytes(state.dataKey, legacyKey, keyAD('legacy-key', state.accountId))),
            },
          };
          pendingUpgrades.set(pendingKey, material);
        }
        const body = await sendUpgrade(material.body, pendingKey);
        // The answer is a new session: keep it (its expiry is later) and end the old one.
        const old = state.token;
        Object.assign(state, checkToken(body));
        call('POST', '/api/v2/logout', { headers: { Authorization: `Bearer ${old}` } }).catch(() => {});
        return { backupId: material.body.backupId };
      },

      /** Ends the session on the server; the object is unusable after. */
      async logout() {
        const headers = bearer();
        state.token = null;
        try {
          await call('POST', '/api/v2/logout', { headers });
        } catch (error) {
          if (error?.code !== ERROR_CODES_V2.auth) throw error;
        }
        return true;
      },

      /**
       * Re-wraps the data key under a new password; no backup is uploaded
       * again. Every other session of the account ends; this one goes on
       * with the new token.
       */
      async changePassword(currentPassword, newPassword, { onProgress } = {}) {
        checkText(currentPassword, 'currentPassword');
        checkText(newPassword, 'newPassword');
        bearer();
        const progress = progressReporter(onProgress);
        const currentAuthKey = await checkPasswordLocally(state, currentPassword, progress);
        await changeKeys(state, currentAuthKey, newPassword, Math.max(state.kdf.iterations, await serverIterations()), progress);
      },

      /** Deletes the account, every backup and every version. */
      async deleteAccount(password, { onProgress } = {}) {
        checkText(password, 'password');
        bearer();
        const authKey = await checkPasswordLocally(state, password, progressReporter(onProgress));
        await authed('DELETE', '/api/v2/account', { body: { auth: hex(authKey) } });
        state.token = null;
        return true;
      },
    };

    /** Decrypts one version: a v2 envelope with the data key, a v1 one with the backup's legacy key. */
    async function openVersion(backupId, body) {
      let env;
      try {
        env = JSON.parse(body.data);
      } catch (cause) {
        throw corrupt('The stored backup is not in a format this client can decrypt.', cause);
      }
      if (env?.v === 2) {
        try {
          return await openBackup(state.dataKey, { accountId: state.accountId, backupId, version: body.version }, body.data);
        } catch (cause) {
          if (cause?.name === 'OperationError') {
            throw new BackupError('The backup does not decrypt: it is not this account\'s, this backup\'s or this version\'s.', {
              code: ERROR_CODES.decrypt,
              cause,
            });
          }
          throw corrupt('The stored backup is not in a format this client can decrypt.', cause);
        }
      }
      // Saved under v1 before the upgrade: the v1 key travels sealed under the data key.
      if (typeof body.wrappedLegacyKey !== 'string') throw corrupt('The stored backup is a v1 backup without its key.');
      let legacy;
      try {
        legacy = await unwrap(state.dataKey, body.wrappedLegacyKey, 'legacy-key', state.accountId);
      } catch (cause) {
        throw new BackupError('The v1 key of this backup does not open with the account key.', { code: ERROR_CODES.decrypt, cause });
      }
      const key = await globalThis.crypto.subtle.importKey('raw', legacy, 'AES-GCM', false, ['decrypt']);
      return open(key, body.data, { bytes: true });
    }

    return Object.freeze(session);
  }

  return Object.freeze(client);
}
