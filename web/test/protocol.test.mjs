// Protocol conformance of pb_public/dailyreps-backup.js, in Node with no
// browser and no server. node:crypto serves as the independent reference, so
// a bug shared by the module and Web Crypto usage cannot hide behind itself.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, createDecipheriv, createCipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BackupError,
  ERROR_CODES,
  PBKDF2_ITERATIONS,
  createClient,
  deriveKey,
  deriveStorageKey,
  deriveUserId,
  fromBase64,
  fromHex,
  open,
  seal,
  sign,
  toBase64,
  toHex,
} from '../../pb_public/dailyreps-backup.js';
import { TABLE_PATH, buildTable, formatTable } from '../tools/js-lowercase-table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const vectorFiles = [
  { name: 'testdata/vectors.json', path: join(repoRoot, 'testdata', 'vectors.json'), required: true },
  // Usernames whose lower case needs JavaScript's full rules (dotted capital I, final sigma).
  { name: 'testdata/vectors-extra.json', path: join(repoRoot, 'testdata', 'vectors-extra.json'), required: true },
  { name: '../shared/protocol/vectors.json', path: resolve(repoRoot, '..', 'shared', 'protocol', 'vectors.json'), required: false },
];

const BASE = 'http://backup.test';
const SECRET = 'operator-signing-secret-0123456789';
const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');
const hmacHex = (secret, data) => createHmac('sha256', secret).update(data).digest('hex');

async function rawKeyHex(username, password) {
  const key = await deriveKey(username, password, { extractable: true });
  return Buffer.from(await crypto.subtle.exportKey('raw', key)).toString('hex');
}

/**
 * A fetch double: answers each call with the next scripted reply and keeps
 * what was sent so the tests can check the wire format.
 */
function fakeFetch(...replies) {
  const calls = [];
  const fn = async (url, init = {}) => {
    const call = { url: new URL(url), method: init.method ?? 'GET', headers: new Headers(init.headers), body: init.body, init };
    calls.push(call);
    const reply = replies.length > 1 ? replies.shift() : replies[0];
    if (typeof reply === 'function') return reply(call, calls.length);
    if (reply instanceof Error) throw reply;
    const { status = 200, body, headers = {} } = reply ?? {};
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(status === 304 ? null : text, {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    });
  };
  fn.calls = calls;
  return fn;
}

function parseJsonBody(call) {
  return JSON.parse(call.body);
}

// ---------------------------------------------------------------------------

for (const file of vectorFiles) {
  describe(`test vectors from ${file.name}`, () => {
    if (!existsSync(file.path)) {
      if (file.required) {
        test('vector file is present', () => assert.fail(`missing ${file.path}`));
      } else {
        test('vector file is present', { skip: `${file.path} is absent (shared/ is not laid out beside the repository)` }, () => {});
      }
      return;
    }
    const vectors = JSON.parse(readFileSync(file.path, 'utf8'));

    test('file holds vectors', () => {
      assert.ok(Array.isArray(vectors) && vectors.length > 0);
    });

    for (const [i, v] of vectors.entries()) {
      describe(`vector ${i} (${JSON.stringify(v.username)})`, () => {
        test('userId', async () => {
          assert.equal(await deriveUserId(v.username), v.userId);
          assert.equal(v.userId, sha256Hex(Buffer.from(v.username.toLowerCase(), 'utf8')));
        });

        test('storageKey', async () => {
          assert.equal(await deriveStorageKey(v.userId, v.password), v.storageKey);
          assert.equal(await deriveStorageKey(v.userId.toUpperCase(), v.password), v.storageKey, 'upper-case userId means the same');
          assert.equal(v.storageKey, sha256Hex(Buffer.from(v.userId + v.password, 'utf8')));
        });

        test('encryption key', async () => {
          assert.equal(await rawKeyHex(v.username, v.password), v.encryptionKeyHex);
          const reference = pbkdf2Sync(Buffer.from(v.password, 'utf8'), Buffer.from(v.username.toLowerCase(), 'utf8'), PBKDF2_ITERATIONS, 32, 'sha256');
          assert.equal(reference.toString('hex'), v.encryptionKeyHex);
        });

        test('data: sealed with the fixed nonce', async () => {
          const key = await deriveKey(v.username, v.password);
          assert.equal(await seal(key, v.plaintext, { nonce: fromHex(v.nonceHex) }), v.data);

          // Independent reference: node:crypto AES-256-GCM over the same inputs.
          const cipher = createCipheriv('aes-256-gcm', Buffer.from(v.encryptionKeyHex, 'hex'), Buffer.from(v.nonceHex, 'hex'));
          const ct = Buffer.concat([cipher.update(v.plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
          assert.deepEqual(JSON.parse(v.data), { encrypted: ct.toString('base64'), nonce: Buffer.from(v.nonceHex, 'hex').toString('base64') });
          assert.equal(v.data, JSON.stringify({ encrypted: ct.toString('base64'), nonce: Buffer.from(v.nonceHex, 'hex').toString('base64') }));
        });

        test('data: decrypts back to the plaintext', async () => {
          const key = await deriveKey(v.username, v.password);
          assert.equal(await open(key, v.data), v.plaintext);

          const { encrypted, nonce } = JSON.parse(v.data);
          const blob = Buffer.from(encrypted, 'base64');
          const decipher = createDecipheriv('aes-256-gcm', Buffer.from(v.encryptionKeyHex, 'hex'), Buffer.from(nonce, 'base64'));
          decipher.setAuthTag(blob.subarray(blob.length - 16));
          assert.equal(Buffer.concat([decipher.update(blob.subarray(0, blob.length - 16)), decipher.final()]).toString('utf8'), v.plaintext);
        });

        test('account() and save/restore reproduce the vector over a fake server', async () => {
          let stored;
          const fetch = fakeFetch((call) => {
            if (call.method === 'POST') {
              stored = parseJsonBody(call).data;
              return new Response(JSON.stringify({ success: true, updatedAt: '2025-01-01T00:00:00Z', version: 1 }), { status: 200 });
            }
            return new Response(JSON.stringify({ data: stored, updatedAt: '2025-01-01T00:00:00Z', version: 1 }), { status: 200 });
          });
          const acct = await createClient({ baseUrl: BASE, fetch }).account(v.username, v.password);
          assert.equal(acct.userId, v.userId);
          assert.equal(acct.storageKey, v.storageKey);
          await acct.save(v.plaintext, { nonce: fromHex(v.nonceHex) });
          assert.deepEqual(parseJsonBody(fetch.calls[0]), { userId: v.userId, storageKey: v.storageKey, data: v.data });
          const restored = await acct.restore();
          assert.equal(restored.text, v.plaintext);
          assert.deepEqual(restored.json(), JSON.parse(v.plaintext));
        });
      });
    }
  });
}

// ---------------------------------------------------------------------------

describe('username lower case', () => {
  // The Go client checks itself against this table; here the table is
  // checked against the engine, so it cannot be edited into agreement.
  const committed = JSON.parse(readFileSync(TABLE_PATH, 'utf8'));
  const skip = committed.unicode === process.versions.unicode
    ? false
    : `the table is from Unicode ${committed.unicode}, this Node has ${process.versions.unicode}`;

  test('client/testdata/js-lowercase.json is what this engine does', { skip }, () => {
    const fresh = buildTable();
    assert.deepEqual(committed, fresh, 'regenerate it: node web/tools/js-lowercase-table.mjs');
    assert.equal(readFileSync(TABLE_PATH, 'utf8'), formatTable(fresh), 'regenerate it: node web/tools/js-lowercase-table.mjs');
  });

  test('the module derives userId from the same lower case', async () => {
    for (const { username, userId } of committed.usernames) {
      assert.equal(await deriveUserId(username), userId, JSON.stringify(username));
    }
  });
});

// ---------------------------------------------------------------------------

describe('encryption', () => {
  test('each save draws a fresh 12-byte nonce', async () => {
    const key = await deriveKey('carol', 'pw');
    const a = JSON.parse(await seal(key, 'same'));
    const b = JSON.parse(await seal(key, 'same'));
    assert.equal(fromBase64(a.nonce).length, 12);
    assert.notEqual(a.nonce, b.nonce);
    assert.notEqual(a.encrypted, b.encrypted);
  });

  test('the username is case-insensitive, the password is not', async () => {
    assert.equal(await deriveUserId('Carol'), await deriveUserId('cAROL'));
    assert.equal(await rawKeyHex('Carol', 'pw'), await rawKeyHex('carol', 'pw'));
    assert.notEqual(await rawKeyHex('carol', 'pw'), await rawKeyHex('carol', 'PW'));
  });

  test('keys are not extractable unless asked for', async () => {
    const key = await deriveKey('carol', 'pw');
    assert.equal(key.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('raw', key));
  });

  test('wrong key and tampering are detected', async () => {
    const key = await deriveKey('carol', 'pw');
    const other = await deriveKey('carol', 'pw2');
    const data = await seal(key, '{"a":1}');
    await assert.rejects(open(other, data), (e) => e instanceof BackupError && e.code === ERROR_CODES.decrypt);

    const env = JSON.parse(data);
    const ct = fromBase64(env.encrypted);
    ct[0] ^= 1;
    await assert.rejects(open(key, JSON.stringify({ ...env, encrypted: toBase64(ct) })), (e) => e.code === 'decrypt_failed');
  });

  test('malformed data is reported as corrupt, not as a wrong password', async () => {
    const key = await deriveKey('carol', 'pw');
    for (const bad of ['', 'not json', 'null', '[]', '"QUJD"', '{"encrypted":"AAAA","nonce":"AAECAwQFBgcICQoL"}',
      '{"encrypted":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAEC"}', '{"encrypted":"AAAA AAAA","nonce":"AAECAwQFBgcICQoL"}']) {
      await assert.rejects(open(key, bad), (e) => e instanceof BackupError && e.code === ERROR_CODES.corrupt, bad);
    }
  });

  test('a fixed nonce must be 12 bytes', async () => {
    const key = await deriveKey('carol', 'pw');
    await assert.rejects(seal(key, 'x', { nonce: new Uint8Array(8) }), TypeError);
  });

  test('base64 and hex helpers match Buffer on large input', () => {
    const big = new Uint8Array(300_001);
    for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
    assert.equal(toBase64(big), Buffer.from(big).toString('base64'));
    assert.deepEqual(fromBase64(Buffer.from(big).toString('base64')), big);
    assert.equal(toHex(big.subarray(0, 64)), Buffer.from(big.subarray(0, 64)).toString('hex'));
    assert.deepEqual(fromHex('00ff10'), new Uint8Array([0, 255, 16]));
  });

  test('a document of megabytes, decoded in slices, comes back exact; damage in a late slice is caught', async () => {
    const key = await deriveKey('carol', 'pw');
    // Multi-byte characters at every offset, so that slice boundaries fall inside them.
    const text = 'aé€😀'.repeat(150_000);
    const data = await seal(key, text);
    assert.ok(JSON.parse(data).encrypted.length > 2_000_000);
    assert.equal(await open(key, data), text);

    const env = JSON.parse(data);
    const late = env.encrypted.length - 1000;
    const badChar = JSON.stringify({ ...env, encrypted: `${env.encrypted.slice(0, late)}*${env.encrypted.slice(late + 1)}` });
    await assert.rejects(open(key, badChar), (e) => e.code === ERROR_CODES.corrupt);
    const bytes = new TextEncoder().encode(text);
    bytes[bytes.length - 2] = 0xff; // invalid UTF-8 near the end
    await assert.rejects(open(key, await seal(key, bytes)), (e) => e.code === ERROR_CODES.corrupt);
  });

  test('objects are saved as JSON text', async () => {
    const fetch = fakeFetch({ body: { success: true, updatedAt: '2025-01-01T00:00:00Z', version: 3 } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('dave', 'pw');
    const doc = { workouts: [{ day: 1, reps: [10, 12] }], note: 'ünïcode' };
    const result = await acct.save(doc);
    assert.deepEqual(result, { version: 3, updatedAt: '2025-01-01T00:00:00Z' });
    const key = await deriveKey('dave', 'pw');
    assert.equal(await open(key, parseJsonBody(fetch.calls[0]).data), JSON.stringify(doc));
  });
});

// ---------------------------------------------------------------------------

describe('request signing', () => {
  test('sign() matches a hand-computed HMAC for a GET with an empty body', async () => {
    const path = '/api/backup?userId=' + 'a'.repeat(64) + '&storageKey=' + 'b'.repeat(64);
    const expected = hmacHex(SECRET, `1700000000\nGET\n${path}\n${sha256Hex('')}`);
    assert.equal(await sign(SECRET, { method: 'GET', path, timestamp: 1700000000 }), expected);
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('sign() hashes the exact UTF-8 body bytes', async () => {
    const body = JSON.stringify({ userId: 'c'.repeat(64), note: 'Grüße 💪' });
    const expected = hmacHex(SECRET, `1700000123\nPOST\n/api/register\n${sha256Hex(Buffer.from(body, 'utf8'))}`);
    assert.equal(await sign(SECRET, { method: 'post', path: '/api/register', body, timestamp: '1700000123' }), expected);
  });

  test('every account call carries a valid signature over path, query and body', async () => {
    const fetch = fakeFetch((call) => {
      const reply = {
        '/api/info': { version: 'x', signatureRequired: true },
        '/api/register': { success: true },
        '/api/backup': call.method === 'POST' ? { success: true, updatedAt: 't', version: 1 } : { data: '{}', updatedAt: 't', version: 1 },
        '/api/backup/versions': { versions: [] },
        '/api/backup/activity': { events: [] },
        '/api/usage': { bytesUsed: 0, quotaBytes: 1, backups: 0, versions: 0 },
        '/api/user': { success: true },
      }[call.url.pathname];
      return new Response(JSON.stringify(reply), { status: 200 });
    });
    const now = () => 1_700_000_000_500;
    const client = createClient({ baseUrl: BASE, signingSecret: SECRET, fetch, now });
    const acct = await client.account('erin', 'pw');
    await acct.register();
    await acct.save('{"x":1}');
    await acct.restore({ version: 1 }).catch(() => {}); // '{}' is not valid ciphertext; only the request matters here
    await acct.versions();
    await acct.activity();
    await acct.usage();
    await acct.delete();

    assert.equal(fetch.calls.length, 7);
    for (const call of fetch.calls) {
      const ts = call.headers.get('X-Timestamp');
      assert.equal(ts, '1700000000');
      const target = call.url.pathname + call.url.search;
      const expected = hmacHex(SECRET, `${ts}\n${call.method}\n${target}\n${sha256Hex(Buffer.from(call.body ?? '', 'utf8'))}`);
      assert.equal(call.headers.get('X-Signature'), expected, `${call.method} ${target}`);
      assert.match(call.headers.get('X-Signature'), /^[0-9a-f]{64}$/);
    }
    const restore = fetch.calls.find((c) => c.method === 'GET' && c.url.pathname === '/api/backup');
    assert.equal(restore.url.searchParams.get('version'), '1');
    assert.ok(restore.url.search.includes('storageKey='), 'the query string is part of what is signed');
  });

  test('no signature headers without a secret', async () => {
    const fetch = fakeFetch({ body: { success: true } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('erin', 'pw');
    await acct.register();
    assert.equal(fetch.calls[0].headers.get('X-Signature'), null);
    assert.equal(fetch.calls[0].headers.get('X-Timestamp'), null);
  });

  test('a base URL with a path prefix signs the full request path', async () => {
    const fetch = fakeFetch({ body: { success: true } });
    const acct = await createClient({ baseUrl: 'https://example.test/backup', signingSecret: SECRET, fetch, now: () => 1e12 }).account('erin', 'pw');
    await acct.register();
    const call = fetch.calls[0];
    assert.equal(call.url.pathname, '/backup/api/register');
    const expected = hmacHex(SECRET, `1000000000\nPOST\n/backup/api/register\n${sha256Hex(call.body)}`);
    assert.equal(call.headers.get('X-Signature'), expected);
  });

  test('a 401 with X-Server-Time corrects the clock and retries once', async () => {
    const serverNow = 1_700_000_900;
    const fetch = fakeFetch((call) => {
      const ts = Number(call.headers.get('X-Timestamp'));
      if (Math.abs(ts - serverNow) > 300) {
        return new Response(JSON.stringify({ error: 'Request timestamp is outside the allowed window.' }), { status: 401, headers: { 'X-Server-Time': String(serverNow) } });
      }
      return new Response(JSON.stringify({ success: true }), { status: 200 });
    });
    const client = createClient({ baseUrl: BASE, signingSecret: SECRET, fetch, now: () => 1_700_000_000_000 });
    const acct = await client.account('frank', 'pw');
    await acct.register();
    assert.equal(fetch.calls.length, 2);
    assert.equal(fetch.calls[1].headers.get('X-Timestamp'), String(serverNow));
    assert.notEqual(fetch.calls[1].headers.get('X-Signature'), fetch.calls[0].headers.get('X-Signature'));
    assert.equal(client.clockOffset, 900);
    // The learned offset is kept: the next request is right the first time.
    await acct.delete();
    assert.equal(fetch.calls.length, 3);
    assert.equal(fetch.calls[2].headers.get('X-Timestamp'), String(serverNow));
  });

  test('identical requests in one second get distinct timestamps, so none is a replay', async () => {
    const fetch = fakeFetch({ body: { success: true } });
    const client = createClient({ baseUrl: BASE, signingSecret: SECRET, fetch, now: () => 1_700_000_000_000 });
    const acct = await client.account('kim', 'pw');
    await acct.register();
    await acct.register();
    await Promise.all([acct.register(), acct.delete()]);
    const stamps = fetch.calls.map((c) => `${c.method} ${c.headers.get('X-Timestamp')}`);
    // The last two run at once, so they may reach fetch in either order.
    assert.deepEqual([...stamps.slice(0, 2), ...stamps.slice(2).sort()], ['POST 1700000000', 'POST 1700000001', 'DELETE 1700000000', 'POST 1700000002']);
    for (const call of fetch.calls) {
      const ts = call.headers.get('X-Timestamp');
      const expected = hmacHex(SECRET, `${ts}\n${call.method}\n${call.url.pathname}\n${sha256Hex(call.body)}`);
      assert.equal(call.headers.get('X-Signature'), expected);
    }
    assert.equal(new Set(fetch.calls.map((c) => c.headers.get('X-Signature'))).size, 4);
  });

  test('a device clock that runs fast is corrected too', async () => {
    const serverNow = 1_700_000_000;
    const fetch = fakeFetch((call) =>
      Number(call.headers.get('X-Timestamp')) === serverNow
        ? new Response(JSON.stringify({ success: true }), { status: 200 })
        : new Response(JSON.stringify({ error: 'skew' }), { status: 401, headers: { 'X-Server-Time': String(serverNow) } }),
    );
    const client = createClient({ baseUrl: BASE, signingSecret: SECRET, fetch, now: () => (serverNow + 7200) * 1000 });
    await (await client.account('lee', 'pw')).register();
    assert.deepEqual(fetch.calls.map((c) => c.headers.get('X-Timestamp')), [String(serverNow + 7200), String(serverNow)]);
    assert.equal(client.clockOffset, -7200);
  });

  test('the retry happens only once', async () => {
    const fetch = fakeFetch({ status: 401, body: { error: 'Invalid signature.' }, headers: { 'X-Server-Time': '1700000900' } });
    const acct = await createClient({ baseUrl: BASE, signingSecret: SECRET, fetch, now: () => 1_700_000_000_000 }).account('frank', 'pw');
    await assert.rejects(acct.register(), (e) => e instanceof BackupError && e.code === 'unauthorized' && e.status === 401 && e.serverTime === 1700000900);
    assert.equal(fetch.calls.length, 2);
  });

  test('a 401 without X-Server-Time is not retried', async () => {
    const fetch = fakeFetch({ status: 401, body: { error: 'Invalid signature.' } });
    const acct = await createClient({ baseUrl: BASE, signingSecret: SECRET, fetch }).account('frank', 'pw');
    await assert.rejects(acct.register(), (e) => e.code === 'unauthorized' && e.serverTime === undefined && e.message === 'Invalid signature.');
    assert.equal(fetch.calls.length, 1);
  });

  test('without a secret a 401 is reported, not retried', async () => {
    const fetch = fakeFetch({ status: 401, body: { error: 'Missing signature.' }, headers: { 'X-Server-Time': '1700000900' } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('frank', 'pw');
    await assert.rejects(acct.register(), (e) => e.code === 'unauthorized');
    assert.equal(fetch.calls.length, 1);
  });
});

// ---------------------------------------------------------------------------

describe('typed errors', () => {
  const cases = [
    [400, 'invalid', 'Request body is invalid.'],
    [401, 'unauthorized', 'Invalid signature.'],
    [403, 'forbidden', 'Registration is closed.'],
    [404, 'not_found', 'Backup not found.'],
    [409, 'already_registered', 'User already exists.'],
    [412, 'stale', 'Version mismatch.'],
    [413, 'too_large', 'Backup too large.'],
    [415, 'invalid', 'Content-Type must be application/json.'],
    [429, 'rate_limited', 'Too many requests.'],
    [500, 'server_error', 'Internal error.'],
    [502, 'server_error', 'Bad gateway.'],
    [503, 'unavailable', 'Service unavailable.'],
    [418, 'unexpected', 'I am a teapot.'],
  ];
  for (const [status, code, message] of cases) {
    test(`${status} -> ${code}`, async () => {
      const fetch = fakeFetch({ status, body: { error: message } });
      const acct = await createClient({ baseUrl: BASE, fetch }).account('gina', 'pw');
      const err = await acct.register().catch((e) => e);
      assert.ok(err instanceof BackupError, 'is a BackupError');
      assert.ok(err instanceof Error, 'is an Error');
      assert.equal(err.name, 'BackupError');
      assert.equal(err.status, status);
      assert.equal(err.code, code);
      assert.equal(err.message, message);
      assert.equal(err.serverMessage, message);
    });
  }

  test('every code is listed in ERROR_CODES', () => {
    const listed = new Set(Object.values(ERROR_CODES));
    for (const [, code] of cases) assert.ok(listed.has(code), code);
    for (const code of ['network', 'decrypt_failed', 'corrupt_data']) assert.ok(listed.has(code), code);
  });

  test('429 carries retryAfter from Retry-After seconds', async () => {
    const fetch = fakeFetch({ status: 429, body: { error: 'Too many requests.' }, headers: { 'Retry-After': '37' } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('gina', 'pw');
    await assert.rejects(acct.save('{}'), (e) => e.code === 'rate_limited' && e.retryAfter === 37 && e.status === 429);
  });

  test('429 with an HTTP-date Retry-After', async () => {
    const now = Date.parse('2025-03-01T12:00:00Z');
    const fetch = fakeFetch({ status: 429, body: { error: 'slow down' }, headers: { 'Retry-After': 'Sat, 01 Mar 2025 12:02:00 GMT' } });
    const acct = await createClient({ baseUrl: BASE, fetch, now: () => now }).account('gina', 'pw');
    await assert.rejects(acct.restore(), (e) => e.code === 'rate_limited' && e.retryAfter === 120);
  });

  test('412 reports the current version from the ETag', async () => {
    const fetch = fakeFetch({ status: 412, body: { error: 'stale' }, headers: { ETag: '"7"' } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('gina', 'pw');
    await assert.rejects(acct.save('{}', { ifMatch: 5 }), (e) => e.code === 'stale' && e.currentVersion === 7);
    assert.equal(fetch.calls[0].headers.get('If-Match'), '"5"');
  });

  test('an error without a JSON body still gets a code and a sentence', async () => {
    const fetch = fakeFetch({ status: 503, body: '<html>upstream down</html>', headers: { 'Content-Type': 'text/html' } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('gina', 'pw');
    await assert.rejects(acct.restore(), (e) => e.code === 'unavailable' && e.serverMessage === undefined && e.message.length > 0);
  });

  test('a failed fetch is a network error', async () => {
    const fetch = fakeFetch(new TypeError('fetch failed'));
    const acct = await createClient({ baseUrl: BASE, fetch }).account('gina', 'pw');
    await assert.rejects(acct.restore(), (e) => e instanceof BackupError && e.code === 'network' && e.status === 0 && e.cause instanceof TypeError);
  });

  test('a timeout is a network error', async () => {
    // AbortSignal.timeout's timer does not keep Node's event loop alive, so hold it open while waiting.
    const fetch = (url, init) => new Promise((_, reject) => {
      const keepAlive = setTimeout(() => reject(new Error('the client never aborted')), 5000);
      init.signal.addEventListener('abort', () => {
        clearTimeout(keepAlive);
        reject(init.signal.reason);
      });
    });
    const acct = await createClient({ baseUrl: BASE, fetch, timeoutMs: 20 }).account('gina', 'pw');
    await assert.rejects(acct.restore(), (e) => e.code === 'network' && /in time/.test(e.message));
  });

  test('a 200 that is not JSON is unexpected', async () => {
    const fetch = fakeFetch({ status: 200, body: 'ok' });
    await assert.rejects(createClient({ baseUrl: BASE, fetch }).info(), (e) => e.code === 'unexpected');
  });
});

// ---------------------------------------------------------------------------

describe('request shapes', () => {
  test('register, with and without an invite code', async () => {
    const fetch = fakeFetch({ body: { success: true } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('Hana', 'pw');
    assert.equal(await acct.register(), true);
    assert.equal(await acct.register({ inviteCode: 'INV-1' }), true);
    const [plain, invited] = fetch.calls;
    assert.equal(plain.method, 'POST');
    assert.equal(plain.url.href, `${BASE}/api/register`);
    assert.equal(plain.headers.get('Content-Type'), 'application/json');
    assert.deepEqual(parseJsonBody(plain), { userId: await deriveUserId('hana') });
    assert.equal(plain.headers.get('X-Invite-Code'), null);
    assert.equal(invited.headers.get('X-Invite-Code'), 'INV-1');
  });

  test('restore, versions, activity and delete', async () => {
    const key = await deriveKey('hana', 'pw');
    const data = await seal(key, '{"v":2}');
    const fetch = fakeFetch(
      { body: { data, updatedAt: '2025-01-02T00:00:00Z', version: 2 } },
      { body: { versions: [{ version: 2, updatedAt: 'b', size: 10 }, { version: 1, updatedAt: 'a', size: 9 }] } },
      { body: { events: [{ type: 'restored', at: '2025-01-02T00:00:00Z', count: 1 }] } },
      { body: { success: true } },
    );
    const acct = await createClient({ baseUrl: BASE, fetch }).account('hana', 'pw');
    const restored = await acct.restore({ version: 2 });
    assert.deepEqual({ text: restored.text, version: restored.version, updatedAt: restored.updatedAt }, { text: '{"v":2}', version: 2, updatedAt: '2025-01-02T00:00:00Z' });
    assert.deepEqual((await acct.versions()).map((v) => v.version), [2, 1]);
    assert.equal((await acct.activity())[0].type, 'restored');
    assert.equal(await acct.delete(), true);

    const [get, versions, activity, del] = fetch.calls;
    // An additive option reads what the server says is left; the plain call ignores it.
    const told = fakeFetch({ body: { success: true, remainingBackups: 2 } }, { body: { success: true } });
    const acct2 = await createClient({ baseUrl: BASE, fetch: told }).account('hana', 'pw');
    assert.deepEqual(await acct2.delete({ details: true }), { remainingBackups: 2 });
    assert.deepEqual(await acct2.delete({ details: true }), { remainingBackups: undefined });
    for (const call of [get, versions, activity]) {
      assert.equal(call.method, 'GET');
      assert.equal(call.body, undefined);
      assert.equal(call.url.searchParams.get('userId'), acct.userId);
      assert.equal(call.url.searchParams.get('storageKey'), acct.storageKey);
    }
    assert.equal(get.url.pathname, '/api/backup');
    assert.equal(get.url.searchParams.get('version'), '2');
    assert.equal(versions.url.pathname, '/api/backup/versions');
    assert.equal(activity.url.pathname, '/api/backup/activity');
    assert.equal(del.method, 'DELETE');
    assert.equal(del.url.pathname, '/api/user');
    assert.deepEqual(parseJsonBody(del), { userId: acct.userId, storageKey: acct.storageKey });
  });

  test('the storage key stays out of serialised accounts', async () => {
    const acct = await createClient({ baseUrl: BASE, fetch: fakeFetch({}) }).account('hana', 'pw');
    assert.match(acct.storageKey, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(acct).includes(acct.storageKey));
    assert.ok(Object.isFrozen(acct));
  });

  test('requests never follow redirects or send cookies', async () => {
    const fetch = fakeFetch({ body: { success: true } });
    const acct = await createClient({ baseUrl: BASE, fetch }).account('hana', 'pw');
    await acct.register();
    assert.equal(fetch.calls[0].init.redirect, 'error');
    assert.equal(fetch.calls[0].init.credentials, 'omit');
  });

  test('account() reports progress and validates input', async () => {
    const phases = [];
    const client = createClient({ baseUrl: BASE, fetch: fakeFetch({}) });
    await client.account('ivan', 'pw', { onProgress: ({ phase }) => phases.push(phase) });
    assert.deepEqual(phases, ['deriving', 'derived']);
    await assert.rejects(client.account('', 'pw'), TypeError);
    await assert.rejects(client.account('ivan', undefined), TypeError);
    await assert.rejects(client.account('ivan', 'pw').then((a) => a.restore({ version: 0 })), TypeError);
  });
});
