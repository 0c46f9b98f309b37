// DailyReps Backup client: end-to-end encrypted backups for the DailyReps app.
//
// The password and the document never leave this process. The server only
// ever receives
//   userId     = hex SHA-256(lowercase username)
//   storageKey = hex SHA-256(userId + password)
//   data       = AES-256-GCM ciphertext under a PBKDF2 key it cannot derive.
// storageKey is a fast hash, so it protects a weak password only as far as the
// server keeps it secret; the document's protection rests on the 100 000-round
// PBKDF2 key. The module depends on Web Crypto only (browsers, Node >= 20,
// Deno, workers) and has no imports, so an app can vendor this single file.
//
// The wire contract is docs/API.md; worked examples live in testdata/vectors.json
// and testdata/vectors-extra.json.

export const PBKDF2_ITERATIONS = 100_000;
export const NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;

const encoder = new TextEncoder();
// fatal: a document that does not decode is corrupt, and silently replacing
// bytes with U+FFFD would hand the app a subtly different document.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Every failure this module reports. `code` is stable and meant for program
 * logic; `message` is the server's sentence when there was one.
 */
export class BackupError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code: string, retryAfter?: number, serverTime?: number,
   *          currentVersion?: number, serverMessage?: string, cause?: unknown}} details
   */
  constructor(message, { status = 0, code, retryAfter, serverTime, currentVersion, serverMessage, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BackupError';
    /** HTTP status, or 0 when no response was received. */
    this.status = status;
    /** One of the ERROR_CODES values. */
    this.code = code;
    /** For 'rate_limited': seconds to wait before trying again. */
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
    /** For a 401 caused by clock skew: the server's Unix time in seconds. */
    if (serverTime !== undefined) this.serverTime = serverTime;
    /** For 'stale': the version the server holds now. */
    if (currentVersion !== undefined) this.currentVersion = currentVersion;
    /** The server's own sentence from `{"error": "..."}`, if any. */
    if (serverMessage !== undefined) this.serverMessage = serverMessage;
  }
}

export const ERROR_CODES = Object.freeze({
  invalid: 'invalid', // 400, 415
  unauthorized: 'unauthorized', // 401: missing or bad signature, replay, clock skew
  forbidden: 'forbidden', // 403: registration closed, bad invite, a foreign origin
  notFound: 'not_found', // 404
  alreadyRegistered: 'already_registered', // 409
  stale: 'stale', // 412: If-Match did not match
  tooLarge: 'too_large', // 413: backup over the size limit or the user's quota
  rateLimited: 'rate_limited', // 429
  unavailable: 'unavailable', // 503
  server: 'server_error', // any other 5xx
  unexpected: 'unexpected', // a status or body outside the contract
  network: 'network', // no response: offline, DNS, CORS refusal, timeout
  decrypt: 'decrypt_failed', // the ciphertext does not authenticate under this key
  corrupt: 'corrupt_data', // the stored data is not in a format this client knows
  unsupported: 'unsupported', // no Web Crypto (for example a page served over plain HTTP)
});

const STATUS_CODES = new Map([
  [400, ERROR_CODES.invalid],
  [401, ERROR_CODES.unauthorized],
  [403, ERROR_CODES.forbidden],
  [404, ERROR_CODES.notFound],
  [409, ERROR_CODES.alreadyRegistered],
  [412, ERROR_CODES.stale],
  [413, ERROR_CODES.tooLarge],
  [415, ERROR_CODES.invalid],
  [429, ERROR_CODES.rateLimited],
  [503, ERROR_CODES.unavailable],
]);

const DEFAULT_MESSAGES = {
  invalid: 'The server rejected the request as invalid.',
  unauthorized: 'The server refused the request signature.',
  forbidden: 'The server refused this request.',
  not_found: 'No backup was found for this username and password.',
  already_registered: 'This username is already registered.',
  stale: 'The backup changed on the server since it was last read.',
  too_large: 'The backup is too large, or the storage quota is full.',
  rate_limited: 'Too many requests; try again later.',
  unavailable: 'The backup server is temporarily unavailable.',
  server_error: 'The backup server failed to handle the request.',
  unexpected: 'The backup server sent an unexpected response.',
};

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    // Browsers hide Web Crypto outside secure contexts; falling back to a JS
    // implementation would only hide a deployment mistake.
    throw new BackupError('Web Crypto is not available here; the page must be served over HTTPS or from localhost.', {
      code: ERROR_CODES.unsupported,
    });
  }
  return s;
}

// ---------------------------------------------------------------------------
// Encoding helpers

function toBytes(value, what) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`${what} must be a string or bytes`);
}

export function toHex(bytes) {
  const b = toBytes(bytes, 'bytes');
  let out = '';
  for (let i = 0; i < b.length; i++) out += b[i].toString(16).padStart(2, '0');
  return out;
}

export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError('invalid hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toBase64(bytes) {
  const b = toBytes(bytes, 'bytes');
  // The built-in encoder where there is one: it is an order of magnitude
  // faster on a backup of megabytes, which blocks the page while it runs.
  if (typeof b.toBase64 === 'function') return b.toBase64();
  // Chunked because spreading megabytes into String.fromCharCode overflows the call stack.
  const chunks = [];
  for (let i = 0; i < b.length; i += 0x8000) {
    chunks.push(String.fromCharCode.apply(null, b.subarray(i, i + 0x8000)));
  }
  return btoa(chunks.join(''));
}

// Standard padded base64 only: atob tolerates whitespace and missing padding,
// and the server stores standard padded base64, so anything else means the
// stored data is not ours. Checked with one character class instead of a
// regular expression of groups of four, which takes seconds on megabytes.
const NOT_BASE64 = /[^A-Za-z0-9+/]/;

function base64Padding(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0) return -1;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return NOT_BASE64.test(pad ? text.slice(0, -pad) : text) ? -1 : pad;
}

function decodeBase64Into(text, out, at) {
  const bin = atob(text);
  for (let i = 0; i < bin.length; i++) out[at + i] = bin.charCodeAt(i);
  return at + bin.length;
}

export function fromBase64(text) {
  const pad = base64Padding(text);
  if (pad < 0) throw new TypeError('invalid base64 string');
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  decodeBase64Into(text, out, 0);
  return out;
}

// Characters (or bytes) handled per slice of long work: a few tens of
// milliseconds on a slow phone.
const SLICE = 1 << 18;

/** Lets the event loop run (input, painting) between slices of long work. */
function yieldToEventLoop() {
  // Not a timer or an animation frame: both are throttled or paused in a
  // background tab, where the work would then take minutes.
  const s = globalThis.scheduler;
  if (typeof s?.yield === 'function') return s.yield();
  if (typeof MessageChannel !== 'function') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** fromBase64 in slices, so that decoding megabytes never blocks a page for long. */
async function fromBase64Sliced(text) {
  if (typeof text !== 'string' || text.length <= SLICE) return fromBase64(text);
  const pad = text.length % 4 !== 0 ? -1 : text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (pad < 0) throw new TypeError('invalid base64 string');
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let at = 0;
  for (let i = 0; i < text.length; i += SLICE) {
    await yieldToEventLoop();
    const slice = text.slice(i, i + SLICE);
    const last = i + SLICE >= text.length;
    if (NOT_BASE64.test(last && pad ? slice.slice(0, -pad) : slice)) throw new TypeError('invalid base64 string');
    at = decodeBase64Into(slice, out, at);
  }
  return out;
}

/** Strict UTF-8 decoding in slices, for the same reason. */
async function decodeUtf8Sliced(bytes) {
  if (bytes.length <= SLICE) return decoder.decode(bytes);
  const d = new TextDecoder('utf-8', { fatal: true });
  const parts = [];
  for (let i = 0; i < bytes.length; i += SLICE) {
    await yieldToEventLoop();
    parts.push(d.decode(bytes.subarray(i, i + SLICE), { stream: true }));
  }
  parts.push(d.decode());
  return parts.join('');
}

async function sha256Hex(bytes) {
  return toHex(new Uint8Array(await subtle().digest('SHA-256', toBytes(bytes, 'input'))));
}

// ---------------------------------------------------------------------------
// Protocol primitives

function normalizeUsername(username) {
  if (typeof username !== 'string') throw new TypeError('username must be a string');
  // String.prototype.toLowerCase is locale-independent, which the protocol
  // needs: a Turkish-locale device must derive the same ids as any other.
  return username.toLowerCase();
}

function checkPassword(password) {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  return password;
}

/** hex SHA-256 of the lower-cased username: the account's public identifier. */
export async function deriveUserId(username) {
  return sha256Hex(normalizeUsername(username));
}

/** hex SHA-256 of userId + password: proves knowledge of the password without revealing it. */
export async function deriveStorageKey(userId, password) {
  if (typeof userId !== 'string' || !/^[0-9a-fA-F]{64}$/.test(userId)) throw new TypeError('userId must be 64 hex characters');
  return sha256Hex(userId.toLowerCase() + checkPassword(password));
}

/**
 * The AES-256-GCM key: PBKDF2-HMAC-SHA-256(password, salt = lowercase username, 100 000 iterations).
 * Non-extractable by default so that script running later in the page can use
 * the key but cannot copy it out.
 * @returns {Promise<CryptoKey>}
 */
export async function deriveKey(username, password, { extractable = false } = {}) {
  const s = subtle();
  const material = await s.importKey('raw', encoder.encode(checkPassword(password)), 'PBKDF2', false, ['deriveKey']);
  return s.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: encoder.encode(normalizeUsername(username)), iterations: PBKDF2_ITERATIONS },
    material,
    { name: 'AES-GCM', length: 256 },
    extractable,
    ['encrypt', 'decrypt'],
  );
}

/**
 * Encrypts a document into the `data` string the server stores.
 * @param {CryptoKey} key from deriveKey
 * @param {string|Uint8Array} plaintext
 * @param {{nonce?: Uint8Array}} [options] a fixed nonce is for test vectors only:
 *   reusing a nonce under one key breaks AES-GCM completely.
 * @returns {Promise<string>}
 */
export async function seal(key, plaintext, { nonce } = {}) {
  let iv;
  if (nonce === undefined) {
    iv = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  } else {
    iv = toBytes(nonce, 'nonce');
    if (iv.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
  }
  const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv }, key, toBytes(plaintext, 'plaintext')));
  return JSON.stringify({ encrypted: toBase64(ct), nonce: toBase64(iv) });
}

/**
 * Decrypts a `data` string produced by seal (or any conforming client).
 * @param {CryptoKey} key
 * @param {string} data
 * @param {{bytes?: boolean}} [options] bytes: return the raw plaintext instead of decoding UTF-8
 * @returns {Promise<string|Uint8Array>}
 */
export async function open(key, data, { bytes = false } = {}) {
  let encrypted;
  let iv;
  try {
    const envelope = JSON.parse(data);
    if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) throw new TypeError('not an object');
    encrypted = await fromBase64Sliced(envelope.encrypted);
    iv = fromBase64(envelope.nonce);
  } catch (cause) {
    throw new BackupError('The stored backup is not in a format this client can decrypt.', { code: ERROR_CODES.corrupt, cause });
  }
  if (iv.length !== NONCE_BYTES || encrypted.length < GCM_TAG_BYTES) {
    throw new BackupError('The stored backup is not in a format this client can decrypt.', { code: ERROR_CODES.corrupt });
  }
  let plain;
  try {
    plain = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv }, key, encrypted));
  } catch (cause) {
    throw new BackupError('The backup could not be decrypted with this password.', { code: ERROR_CODES.decrypt, cause });
  }
  if (bytes) return plain;
  try {
    return await decodeUtf8Sliced(plain);
  } catch (cause) {
    throw new BackupError('The decrypted backup is not valid UTF-8 text.', { code: ERROR_CODES.corrupt, cause });
  }
}

/**
 * The request signature: hex HMAC-SHA-256(secret, timestamp \n METHOD \n path?query \n hex SHA-256(body)).
 * @param {string|Uint8Array} secret the operator's signing secret
 * @param {{method: string, path: string, body?: string|Uint8Array, timestamp: number|string}} request
 *   path is exactly what goes on the request line (path plus raw query string)
 * @returns {Promise<string>}
 */
export async function sign(secret, { method, path, body = '', timestamp }) {
  return signDigest(secret, { method, path, bodyHash: await sha256Hex(toBytes(body, 'body')), timestamp });
}

async function signDigest(secret, { method, path, bodyHash, timestamp }) {
  if (typeof method !== 'string' || typeof path !== 'string') throw new TypeError('method and path must be strings');
  const ts = String(timestamp);
  if (!/^\d+$/.test(ts)) throw new TypeError('timestamp must be Unix seconds');
  const s = subtle();
  const hmacKey = await s.importKey('raw', toBytes(secret, 'secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const message = `${ts}\n${method.toUpperCase()}\n${path}\n${bodyHash}`;
  return toHex(new Uint8Array(await s.sign('HMAC', hmacKey, encoder.encode(message))));
}

// ---------------------------------------------------------------------------
// HTTP

const REPLAYED = /already received/i;
const MAX_REPLAY_RETRIES = 4;

function progressReporter(callback) {
  return (phase, extra) => {
    if (typeof callback !== 'function') return;
    try {
      callback({ phase, ...extra });
    } catch {
      // A broken progress callback must not abort a backup.
    }
  };
}

function parseRetryAfter(value, nowMs) {
  if (value == null || value === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

function parseEtagVersion(value) {
  const m = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

async function readJson(response) {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function errorFromResponse(response, nowMs) {
  const body = await readJson(response).catch(() => undefined);
  const serverMessage = body && typeof body.error === 'string' && body.error !== '' ? body.error : undefined;
  const status = response.status;
  const code = STATUS_CODES.get(status) ?? (status >= 500 ? ERROR_CODES.server : ERROR_CODES.unexpected);
  const details = { status, code, serverMessage };
  if (code === ERROR_CODES.rateLimited || code === ERROR_CODES.unavailable) {
    details.retryAfter = parseRetryAfter(response.headers.get('Retry-After'), nowMs);
  }
  if (status === 401) {
    const st = response.headers.get('X-Server-Time');
    if (st != null && /^\s*\d+\s*$/.test(st)) details.serverTime = Number(st);
  }
  if (code === ERROR_CODES.stale) {
    details.currentVersion = parseEtagVersion(response.headers.get('ETag'));
  }
  return new BackupError(serverMessage ?? DEFAULT_MESSAGES[code] ?? `HTTP ${status}`, details);
}

/**
 * @typedef {object} ClientOptions
 * @property {string} [baseUrl] origin (and optional path prefix) of the backup server;
 *   defaults to the current page's origin in a browser
 * @property {string|Uint8Array} [signingSecret] the operator's request signing secret, when the server requires one
 * @property {typeof fetch} [fetch] a fetch implementation (tests, custom agents)
 * @property {number} [timeoutMs] per-request timeout; default 120 s, generous for a 5 MiB upload on a slow link
 * @property {() => number} [now] clock in milliseconds (tests)
 */

/**
 * The HTTP side of a client: URLs, signing, the clock correction, timeouts
 * and errors. createClient and protocol v2's createClientV2 share it, so both
 * protocols sign, retry and report failures alike.
 * @param {ClientOptions & {usedSignatures?: Map<string, number>, retryReplay?: boolean}} [options]
 *   usedSignatures: the (timestamp, request) pairs signed, when several clients share them;
 *   retryReplay: sign again at the next unused second (four times at most, as the Go client)
 *   when the server refuses a request as already received
 * @returns {{send: Function, json: Function, readonly clockOffset: number}}
 */
export function createTransport({
  baseUrl,
  signingSecret,
  fetch: fetchImpl,
  timeoutMs = 120_000,
  now = Date.now,
  usedSignatures = new Map(),
  retryReplay = false,
} = {}) {
  const base = baseUrl ?? globalThis.location?.origin;
  if (!base) throw new TypeError('baseUrl is required outside a browser page');
  const root = new URL(base);
  if (!root.pathname.endsWith('/')) root.pathname += '/';
  const doFetch = fetchImpl ?? globalThis.fetch?.bind(globalThis);
  if (typeof doFetch !== 'function') throw new TypeError('no fetch implementation available');
  const secret = signingSecret === undefined || signingSecret === null || signingSecret === '' ? undefined : signingSecret;

  // Seconds to add to the local clock to get the server's. Learned from a 401
  // that carries X-Server-Time so that a device with a wrong clock still works.
  let clockOffset = 0;

  // The signature covers no nonce, so the server rejects a second identical
  // request (same method, target and body) signed with the same timestamp as a
  // replay. Restoring twice in a row is legitimate, so a repeat gets the next
  // unused second instead; a burst of repeats drifts a few seconds ahead, well
  // inside the server's window. Used (timestamp, request) pairs are kept
  // until they are far outside any window, also across clock corrections.
  // Clients may share them (usedSignatures), so that two clients of one page
  // never sign the same request in the same second either.
  const REPLAY_MEMORY_SECONDS = 900;

  function uniqueTimestamp(requestKey) {
    const current = Math.floor(now() / 1000) + clockOffset;
    for (const [k, ts] of usedSignatures) {
      if (Math.abs(ts - current) > REPLAY_MEMORY_SECONDS) usedSignatures.delete(k);
    }
    let timestamp = current;
    while (usedSignatures.has(`${timestamp} ${requestKey}`)) timestamp++;
    usedSignatures.set(`${timestamp} ${requestKey}`, timestamp);
    return timestamp;
  }

  async function send(method, path, { query, body, headers: extra } = {}) {
    const url = new URL(path.replace(/^\//, ''), root);
    if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const target = url.pathname + url.search;
    const bodyHash = secret === undefined ? undefined : await sha256Hex(payload ?? '');

    let replays = 0;
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: 'application/json', ...extra };
      if (payload !== undefined) headers['Content-Type'] = 'application/json';
      if (secret !== undefined) {
        const timestamp = uniqueTimestamp(`${method} ${target} ${bodyHash}`);
        headers['X-Timestamp'] = String(timestamp);
        headers['X-Signature'] = await signDigest(secret, { method, path: target, bodyHash, timestamp });
      }

      let response;
      try {
        response = await doFetch(url.href, {
          method,
          headers,
          body: payload,
          // Secrets travel in the body and query: never replay them to wherever a redirect points.
          redirect: 'error',
          credentials: 'omit',
          cache: 'no-store',
          referrerPolicy: 'no-referrer',
          signal: timeoutMs > 0 && typeof AbortSignal?.timeout === 'function' ? AbortSignal.timeout(timeoutMs) : undefined,
        });
      } catch (cause) {
        const timedOut = cause?.name === 'TimeoutError';
        throw new BackupError(
          timedOut ? 'The backup server did not answer in time.' : 'Could not reach the backup server.',
          { code: ERROR_CODES.network, cause },
        );
      }

      // Every success in the API is a 200; anything else, including a 304 this client never asks for, is an error.
      if (response.status === 200) return response;

      const error = await errorFromResponse(response, now());
      // Another device sent the very same request, signed in the same
      // second (two devices signing in to one account send the same
      // prelogin): the server refused this one before doing anything, and
      // the next unused second makes it a new request. Several clients
      // (a script's commands in a row, each a new process) may each have
      // taken the next second as well, hence a few tries.
      if (retryReplay && response.status === 401 && secret !== undefined && replays < MAX_REPLAY_RETRIES && REPLAYED.test(error.serverMessage ?? '')) {
        replays++;
        continue;
      }
      if (response.status === 401 && error.serverTime !== undefined && secret !== undefined && attempt === replays) {
        const corrected = error.serverTime - Math.floor(now() / 1000);
        // One retry only, and only if the clock was the problem: otherwise a
        // second refusal is certain and would just spend rate limit.
        if (corrected !== clockOffset) {
          clockOffset = corrected;
          continue;
        }
      }
      throw error;
    }
  }

  async function json(response) {
    const body = await readJson(response);
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new BackupError(DEFAULT_MESSAGES.unexpected, { status: response.status, code: ERROR_CODES.unexpected });
    }
    return body;
  }

  return {
    send,
    json,
    get clockOffset() {
      return clockOffset;
    },
  };
}

/**
 * Creates a client for one backup server.
 * @param {ClientOptions} [options]
 */
export function createClient(options = {}) {
  const transport = createTransport(options);
  const { send, json } = transport;

  const client = {
    /** Server limits and settings: GET /api/info. */
    async info() {
      return json(await send('GET', '/api/info'));
    },

    /** The clock correction in seconds learned from the server, 0 until a skew was seen. */
    get clockOffset() {
      return transport.clockOffset;
    },

    /**
     * Derives the account's identifiers and encryption key once; the result is
     * cheap to reuse for every later call.
     * @param {string} username
     * @param {string} password
     * @param {{onProgress?: (event: {phase: string}) => void}} [options]
     */
    async account(username, password, { onProgress } = {}) {
      if (typeof username !== 'string' || username.length === 0) throw new TypeError('username must be a non-empty string');
      checkPassword(password);
      const progress = progressReporter(onProgress);
      progress('deriving');
      const userId = await deriveUserId(username);
      const [storageKey, key] = await Promise.all([deriveStorageKey(userId, password), deriveKey(username, password)]);
      progress('derived');
      return createAccount(userId, storageKey, key);
    },
  };

  function createAccount(userId, storageKey, key) {
    const credentials = { userId, storageKey };
    const account = {
      userId,

      /** POST /api/register. Resolves to true; rejects with code 'already_registered' if taken. */
      async register({ inviteCode } = {}) {
        const headers = inviteCode ? { 'X-Invite-Code': inviteCode } : undefined;
        await send('POST', '/api/register', { body: { userId }, headers });
        return true;
      },

      /**
       * Encrypts and uploads a document (an object is serialised with JSON.stringify).
       * @param {string|object} document
       * @param {{ifMatch?: number, onProgress?: (e: {phase: string}) => void, nonce?: Uint8Array}} [options]
       *   ifMatch: only save if the server still holds this version (else code 'stale')
       * @returns {Promise<{version: number, updatedAt: string}>}
       */
      async save(document, { ifMatch, onProgress, nonce } = {}) {
        const text = typeof document === 'string' ? document : JSON.stringify(document);
        if (typeof text !== 'string') throw new TypeError('document must be a string or a JSON-serialisable value');
        if (ifMatch !== undefined && !(Number.isSafeInteger(ifMatch) && ifMatch >= 0)) {
          throw new TypeError('ifMatch must be a version number');
        }
        const progress = progressReporter(onProgress);
        progress('encrypting');
        const data = await seal(key, text, { nonce });
        progress('uploading', { bytes: data.length });
        const headers = ifMatch === undefined ? undefined : { 'If-Match': `"${ifMatch}"` };
        const body = await json(await send('POST', '/api/backup', { body: { ...credentials, data }, headers }));
        progress('done');
        return { version: body.version, updatedAt: body.updatedAt };
      },

      /**
       * Downloads and decrypts the latest backup, or a given older version.
       * @param {{version?: number}} [options]
       * @returns {Promise<{text: string, version: number, updatedAt: string, json: () => any}>}
       */
      async restore({ version } = {}) {
        if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) {
          throw new TypeError('version must be a positive integer');
        }
        const body = await json(await send('GET', '/api/backup', { query: { ...credentials, version } }));
        if (typeof body.data !== 'string') {
          throw new BackupError(DEFAULT_MESSAGES.unexpected, { status: 200, code: ERROR_CODES.unexpected });
        }
        const text = await open(key, body.data);
        return { text, version: body.version, updatedAt: body.updatedAt, json: () => JSON.parse(text) };
      },

      /** @returns {Promise<Array<{version: number, updatedAt: string, size: number}>>} newest first */
      async versions() {
        const body = await json(await send('GET', '/api/backup/versions', { query: credentials }));
        return Array.isArray(body.versions) ? body.versions : [];
      },

      /** @returns {Promise<Array<{type: string, at: string, count: number}>>} newest first */
      async activity() {
        const body = await json(await send('GET', '/api/backup/activity', { query: credentials }));
        return Array.isArray(body.events) ? body.events : [];
      },

      /** @returns {Promise<{bytesUsed: number, quotaBytes: number, backups: number, versions: number}>} */
      async usage() {
        return json(await send('GET', '/api/usage', { query: credentials }));
      },

      /**
       * DELETE /api/user: removes this key's backup and every stored version
       * (and the user, once no backup of theirs is left).
       * @param {{details?: boolean}} [options] details: resolve to
       *   {remainingBackups} instead of true; remainingBackups counts the backups
       *   under other passwords that remain, undefined if the server did not say
       * @returns {Promise<true|{remainingBackups: number|undefined}>}
       */
      async delete({ details = false } = {}) {
        const response = await send('DELETE', '/api/user', { body: credentials });
        if (!details) return true;
        const body = await readJson(response).catch(() => undefined);
        const n = body?.remainingBackups;
        return { remainingBackups: Number.isSafeInteger(n) && n >= 0 ? n : undefined };
      },
    };
    // The storage key is a bearer secret for the backups: readable on purpose,
    // but kept out of JSON.stringify and of casual console logging.
    Object.defineProperty(account, 'storageKey', { value: storageKey, enumerable: false });
    return Object.freeze(account);
  }

  return Object.freeze(client);
}
