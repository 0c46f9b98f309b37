// The protocol v2 client of pb_public/dailyreps-v2.js in Node, with no
// server: every method and error path against fetch doubles (an in-memory
// stand-in of the routes for whole flows, scripted answers for the rest).
// node:crypto recomputes what goes on the wire, so a bug shared by the module
// and its Web Crypto calls cannot hide behind itself.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync, pbkdf2Sync } from 'node:crypto';

import { createClient, deriveKey, deriveStorageKey, deriveUserId, fromBase64, seal } from '../../pb_public/dailyreps-backup.js';
import {
  BackupError,
  ERROR_CODES_V2,
  MIN_ITERATIONS,
  createClientV2,
  deriveMaster,
  deriveMasterWithProgress,
  parseRecoveryCode,
} from '../../pb_public/dailyreps-v2.js';
import { fakeServerV2 } from './fake-server-v2.mjs';

const BASE = 'http://backup.test';
const PASSWORD = 'correct horse battery staple';
const CODES = ERROR_CODES_V2;

function setup({ iterations, memory = new Map(), ...rest } = {}) {
  const server = fakeServerV2({ iterations });
  const client = createClientV2({ baseUrl: BASE, fetch: server.fetch, memory, ...rest });
  return { server, client, memory };
}

/** Answers each call with the next scripted reply, keeping what was sent. */
function scripted(...replies) {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url: new URL(url), method: init.method ?? 'GET', headers: new Headers(init.headers), body: init.body });
    const reply = replies.length > 1 ? replies.shift() : replies[0];
    if (reply instanceof Error) throw reply;
    const { status = 200, body, headers = {} } = reply;
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
  };
  fn.calls = calls;
  return fn;
}

const hkdf = (ikm, label) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), `dailyreps/v2/${label}`, 32));

function gcmOpen(key, b64, ad) {
  const sealed = Buffer.from(b64, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAAD(ad);
  d.setAuthTag(sealed.subarray(-16));
  return Buffer.concat([d.update(sealed.subarray(12, -16)), d.final()]);
}

const keyAd = (label, accountId) => Buffer.from(`dailyreps/v2/${label}\u0000${accountId}`);

async function rejectsWith(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof BackupError, `expected a BackupError, got ${e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

const username = (tag) => `Athlete-${tag}-${Math.random().toString(16).slice(2, 8)}`;

// ---------------------------------------------------------------------------

describe('register', () => {
  test('sends only derived keys, at the server iterations, and a recovery code that unwraps the data key', async () => {
    const { server, client } = setup({ iterations: 610_000 });
    const name = username('Reg');
    const password = 'pa\u0073\u0073wo\u0308rd'; // o + combining diaeresis: derived as NFC
    const { session, recoveryCode } = await client.register(name, password, { inviteCode: 'INV-1' });

    const reg = server.requests.find((r) => r.path === '/api/v2/register');
    assert.equal(reg.headers.get('X-Invite-Code'), 'INV-1');
    const b = reg.body;
    assert.deepEqual(Object.keys(b).sort(), ['accountId', 'auth', 'kdf', 'recoveryAuth', 'recoveryWrappedKey', 'wrappedKey']);
    assert.equal(b.accountId, await deriveUserId(name));
    assert.equal(session.accountId, b.accountId);
    assert.equal(session.username, name);
    assert.equal(b.kdf.name, 'PBKDF2-SHA256');
    assert.equal(b.kdf.iterations, 610_000, 'iterations default to /api/info kdf.iterations');
    assert.equal(Buffer.from(b.kdf.salt, 'base64').length, 16);

    const master = pbkdf2Sync(Buffer.from(password.normalize('NFC')), Buffer.from(b.kdf.salt, 'base64'), 610_000, 32, 'sha256');
    assert.equal(b.auth, hkdf(master, 'auth').toString('hex'));
    const dataKey = gcmOpen(hkdf(master, 'wrap'), b.wrappedKey, keyAd('data-key', b.accountId));
    assert.equal(dataKey.length, 32);

    assert.match(recoveryCode, /^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
    const code = Buffer.from(parseRecoveryCode(recoveryCode));
    assert.equal(b.recoveryAuth, hkdf(code, 'recovery-auth').toString('hex'));
    assert.deepEqual(gcmOpen(hkdf(code, 'recovery-wrap'), b.recoveryWrappedKey, keyAd('data-key-recovery', b.accountId)), dataKey);

    const wire = JSON.stringify(server.requests.map((r) => r.body));
    assert.ok(!wire.includes('wo') && !wire.includes(master.toString('hex')), 'neither the password nor the master key travel');
    assert.equal(typeof session.expiresAt, 'string');
  });

  test('explicit iterations are used; fewer than the minimum are refused before any request', async () => {
    const { server, client } = setup();
    await client.register(username('It'), PASSWORD, { iterations: 600_001 });
    assert.equal(server.requests.find((r) => r.path === '/api/v2/register').body.kdf.iterations, 600_001);
    const before = server.requests.length;
    await assert.rejects(client.register(username('It'), PASSWORD, { iterations: 1000 }), TypeError);
    await assert.rejects(client.register('', PASSWORD), TypeError);
    await assert.rejects(client.register('someone', ''), TypeError);
    assert.equal(server.requests.length, before);
  });

  test('a taken name is name_taken with the server sentence; closed registration is forbidden', async () => {
    const { client } = setup();
    const name = username('Taken');
    await client.register(name, PASSWORD);
    await rejectsWith(client.register(name.toLowerCase(), 'another password'), CODES.nameTaken, /taken/);

    const fetch = scripted({ body: { kdf: { iterations: 600_000 } } }, { status: 403, body: { error: 'Registration is closed on this server.' } });
    const closed = createClientV2({ baseUrl: BASE, fetch, memory: new Map() });
    await rejectsWith(closed.register('x', PASSWORD), CODES.forbidden, /closed/);
  });
});

describe('login', () => {
  test('prelogin, derive, login, unwrap: the session reads what the registering one saved', async () => {
    const { server, client } = setup();
    const name = username('Login');
    const { session: first } = await client.register(name, PASSWORD);
    await first.save({ workouts: [{ reps: 25 }] });

    const events = [];
    const session = await client.login(name.toUpperCase(), PASSWORD, { onProgress: (e) => events.push(e) });
    assert.deepEqual((await session.restore()).document, { workouts: [{ reps: 25 }] });
    const paths = server.requests.slice(-4).map((r) => r.path);
    assert.deepEqual(paths.slice(0, 2), ['/api/v2/prelogin', '/api/v2/login']);
    const derive = events.filter((e) => e.phase === 'derive');
    assert.deepEqual(derive[0], { phase: 'derive', done: 0, total: MIN_ITERATIONS });
    assert.deepEqual(derive.at(-1), { phase: 'derive', done: MIN_ITERATIONS, total: MIN_ITERATIONS });
    for (let i = 1; i < derive.length; i++) assert.ok(derive[i].done >= derive[i - 1].done, 'progress never goes back');
  });

  test('a wrong password and an unknown name are the same wrong_password', async () => {
    const { client } = setup();
    const name = username('Wrong');
    await client.register(name, PASSWORD);
    await rejectsWith(client.login(name, 'not it'), CODES.wrongPassword, /wrong username or password/i);
    await rejectsWith(client.login(username('Nobody'), PASSWORD), CODES.wrongPassword, /wrong username or password/i);
  });

  test('kdfUpgrade: the account is raised to the server iterations with a new salt, transparently', async () => {
    const { server, client } = setup();
    const name = username('Raise');
    const { session: old } = await client.register(name, PASSWORD);
    await old.save('kept');
    const accountId = old.accountId;
    const saltBefore = server.accounts.get(accountId).kdf.salt;
    server.iterations = 650_000;

    const events = [];
    const session = await client.login(name, PASSWORD, { onProgress: (e) => events.push(e) });
    const kdf = server.accounts.get(accountId).kdf;
    assert.equal(kdf.iterations, 650_000);
    assert.notEqual(kdf.salt, saltBefore);
    const pw = server.requests.find((r) => r.path === '/api/v2/password');
    assert.equal(pw.body.new.kdf.iterations, 650_000);
    assert.deepEqual(events.filter((e) => e.phase === 'derive' && e.done === e.total).map((e) => e.total), [600_000, 650_000]);
    assert.equal((await session.restore()).text, 'kept', 'the new token works and the data key is the same');
    await rejectsWith(old.backups(), CODES.auth, /Sign in again/);

    const n = server.requests.length;
    await client.login(name, PASSWORD);
    assert.ok(!server.requests.slice(n).some((r) => r.path === '/api/v2/password'), 'raised once only');
  });

  test('a failed raise leaves the login standing', async () => {
    const { server, client } = setup();
    const name = username('RaiseFail');
    await client.register(name, PASSWORD);
    server.iterations = 650_000;
    server.intercept = (r) => (r.path === '/api/v2/password' ? new Response('{"error":"busy"}', { status: 503 }) : undefined);
    const session = await client.login(name, PASSWORD);
    assert.deepEqual(await session.backups(), []);
  });

  test('a kdf outside the protocol is refused before the slow step', async () => {
    for (const kdf of [
      { name: 'PBKDF2-SHA256', iterations: 1000, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { name: 'PBKDF2-SHA256', iterations: 1e9, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { name: 'argon2id', iterations: 600_000, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { name: 'PBKDF2-SHA256', iterations: 600_000, salt: 'AAAA' },
    ]) {
      const fetch = scripted({ body: { kdf } });
      const client = createClientV2({ baseUrl: BASE, fetch, memory: new Map() });
      const t0 = performance.now();
      await rejectsWith(client.login('someone', PASSWORD), CODES.unexpected);
      assert.ok(performance.now() - t0 < 200, 'no derivation ran');
      assert.equal(fetch.calls.length, 1);
    }
  });

  test('a wrappedKey that does not open under the password is decrypt_failed', async () => {
    const { server, client } = setup();
    const name = username('Forged');
    const { session } = await client.register(name, PASSWORD);
    server.accounts.get(session.accountId).wrappedKey = Buffer.alloc(60, 7).toString('base64');
    await rejectsWith(client.login(name, PASSWORD), CODES.decrypt);
  });

  test('network failures, rate limits and signature refusals keep their v1 codes', async () => {
    const offline = createClientV2({ baseUrl: BASE, fetch: scripted(new TypeError('fetch failed')), memory: new Map() });
    await rejectsWith(offline.login('a', PASSWORD), CODES.network);
    const limited = createClientV2({
      baseUrl: BASE,
      fetch: scripted({ status: 429, body: { error: 'Too many requests.' }, headers: { 'Retry-After': '7' } }),
      memory: new Map(),
    });
    await assert.rejects(limited.login('a', PASSWORD), (e) => e.code === CODES.rateLimited && e.retryAfter === 7 && e.message === 'Too many requests.');
    const signed = createClientV2({
      baseUrl: BASE,
      signingSecret: 'secret',
      fetch: scripted({ status: 401, body: { error: 'The request signature is not valid.' } }),
      memory: new Map(),
    });
    await rejectsWith(signed.login('a', PASSWORD), CODES.unauthorized, /signature/);
    const unsigned = createClientV2({
      baseUrl: BASE,
      fetch: scripted({ status: 401, body: { error: 'This server requires signed requests (X-Timestamp and X-Signature).' } }),
      memory: new Map(),
    });
    await rejectsWith(unsigned.login('a', PASSWORD), CODES.unauthorized, /signed requests/);
  });

  test('a request another client signed in the same second is signed again; v1 keeps its single try', async () => {
    const replayed = { status: 401, body: { error: 'This request was already received.' } };
    const kdf = { name: 'PBKDF2-SHA256', iterations: 600_000, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' };
    const fetch = scripted(replayed, { body: { kdf } }, { status: 401, body: { error: 'Wrong username or password.' } });
    const now = () => 1_800_000_000_000;
    const client = createClientV2({ baseUrl: BASE, fetch, signingSecret: 's', now, memory: new Map() });
    await rejectsWith(client.login('someone', PASSWORD), CODES.wrongPassword);
    const stamps = fetch.calls.map((c) => c.headers.get('X-Timestamp'));
    assert.deepEqual(fetch.calls.map((c) => c.url.pathname), ['/api/v2/prelogin', '/api/v2/prelogin', '/api/v2/login']);
    assert.notEqual(stamps[0], stamps[1], 'signed again at another second');

    // Other clients may have taken the next seconds too: four more tries, then the refusal stands.
    const crowded = scripted(replayed, replayed, replayed, replayed, { body: { kdf } }, { status: 401, body: { error: 'Wrong username or password.' } });
    await rejectsWith(createClientV2({ baseUrl: BASE, fetch: crowded, signingSecret: 's', now, memory: new Map() }).login('crowded', PASSWORD), CODES.wrongPassword);
    const prelogins = crowded.calls.filter((c) => c.url.pathname === '/api/v2/prelogin').map((c) => c.headers.get('X-Timestamp'));
    assert.equal(prelogins.length, 4 + 1);
    assert.equal(new Set(prelogins).size, prelogins.length, 'each prelogin at its own second');
    const full = scripted(replayed, replayed, replayed, replayed, replayed, { body: { kdf } });
    await rejectsWith(createClientV2({ baseUrl: BASE, fetch: full, signingSecret: 's', now, memory: new Map() }).login('full', PASSWORD), CODES.unauthorized);
    assert.equal(full.calls.length, 5);

    // A second client of the page does not sign the same prelogin in the same second at all.
    const other = scripted({ body: { kdf } }, { status: 401, body: { error: 'Wrong username or password.' } });
    await rejectsWith(createClientV2({ baseUrl: BASE, fetch: other, signingSecret: 's', now, memory: new Map() }).login('someone', PASSWORD), CODES.wrongPassword);
    assert.ok(!stamps.includes(other.calls[0].headers.get('X-Timestamp')), 'the clients share what they signed');

    const v1fetch = scripted(replayed);
    await assert.rejects((await createClient({ baseUrl: BASE, fetch: v1fetch, signingSecret: 's', now }).account('x', 'y')).restore(), { code: 'unauthorized' });
    assert.equal(v1fetch.calls.length, 1);
  });

  test('requests are signed when a signing secret is set', async () => {
    const server = fakeServerV2();
    const client = createClientV2({ baseUrl: BASE, fetch: server.fetch, signingSecret: 'operator-secret', memory: new Map() });
    await client.register(username('Sig'), PASSWORD);
    for (const r of server.requests) {
      assert.match(r.headers.get('X-Signature') ?? '', /^[0-9a-f]{64}$/, `${r.path} is signed`);
      assert.match(r.headers.get('X-Timestamp') ?? '', /^\d+$/);
    }
  });
});

describe('session', () => {
  test('save and restore: JSON values and strings, versions counted, compression when it pays', async () => {
    const { server, client } = setup();
    const { session } = await client.register(username('Save'), PASSWORD);
    const doc = { app: 'dailyreps', workouts: Array.from({ length: 200 }, (_, i) => ({ day: i, reps: [20, 18, 15] })) };
    const events = [];
    const s1 = await session.save(doc, { onProgress: (e) => events.push(e) });
    assert.match(s1.backupId, /^[0-9a-f]{32}$/);
    assert.equal(s1.version, 1);
    assert.equal(typeof s1.updatedAt, 'string');
    const stored = JSON.parse(server.backups.get(`${session.accountId}/${s1.backupId}`).versions[0].data);
    assert.equal(stored.v, 2);
    assert.equal(stored.z, 'gzip', "compress: 'auto' gzips what shrinks");
    const up = events.filter((e) => e.phase === 'upload');
    assert.equal(up.at(-1).done, up.at(-1).total);

    const s2 = await session.save('plain text, not JSON', { compress: false });
    assert.deepEqual([s2.backupId, s2.version], [s1.backupId, 2], 'the single backup is reused');
    assert.equal(JSON.parse(server.backups.get(`${session.accountId}/${s1.backupId}`).versions[1].data).z, undefined);

    const latest = await session.restore();
    assert.deepEqual([latest.text, latest.document, latest.version, latest.rollbackFrom], ['plain text, not JSON', undefined, 2, undefined]);
    const down = [];
    const first = await session.restore({ version: 1, onProgress: (e) => down.push(e) });
    assert.deepEqual(first.document, doc);
    assert.equal(first.text, JSON.stringify(doc));
    assert.ok(down.length >= 2 && down.at(-1).done > 0 && down.every((e) => e.phase === 'download'));
  });

  test('a saved document opens only as the version, backup and account it was sealed for', async () => {
    const { server, client } = setup();
    const { session } = await client.register(username('Swap'), PASSWORD);
    const { backupId } = await session.save('one');
    await session.save('two');
    const versions = server.backups.get(`${session.accountId}/${backupId}`).versions;
    versions[1].data = versions[0].data; // the server serves version 1's blob as version 2
    await rejectsWith(session.restore(), CODES.decrypt);

    const { session: other } = await client.register(username('Other'), PASSWORD);
    const { backupId: otherId } = await other.save('theirs');
    versions[0].data = server.backups.get(`${other.accountId}/${otherId}`).versions[0].data;
    await rejectsWith(session.restore({ version: 1 }), CODES.decrypt);

    versions[0].data = '{"v":2,"nonce":"###","ct":""}';
    await rejectsWith(session.restore({ version: 1 }), CODES.corrupt);
  });

  test('a server answering another version than the one asked for is unexpected', async () => {
    const { server, client } = setup();
    const { session } = await client.register(username('Relabel'), PASSWORD);
    await session.save('one');
    await session.save('two');
    server.intercept = (r, answer) =>
      r.method === 'GET' && r.url.searchParams.get('version') === '1' ? answer({ url: new URL(r.url.href.replace('?version=1', '')) }) : undefined;
    await rejectsWith(session.restore({ version: 1 }), CODES.unexpected);
  });

  test('a 412 is retried once on top of the newest version; a second one is stale', async () => {
    const { server, client } = setup();
    const name = username('Race');
    const { session: a } = await client.register(name, PASSWORD);
    const { backupId } = await a.save('from a');
    const b = await client.login(name, PASSWORD);
    await b.save('from b, 2');
    await b.save('from b, 3');
    const saved = await a.save('from a again');
    assert.equal(saved.version, 4);
    assert.equal((await b.restore()).text, 'from a again');

    server.intercept = (r) => (r.method === 'PUT' ? new Response('{"error":"changed"}', { status: 412, headers: { ETag: '"9"' } }) : undefined);
    await assert.rejects(a.save('lost', { backupId }), (e) => e.code === CODES.stale && e.currentVersion === 9);
    assert.deepEqual(
      server.requests.filter((r) => r.method === 'PUT').slice(-2).map((r) => r.body.version),
      [5, 10],
    );
  });

  test('several backups: backupId chooses, and is required once there are two', async () => {
    const { client } = setup();
    const { session } = await client.register(username('Many'), PASSWORD);
    const id2 = 'aa'.repeat(16);
    const { backupId: id1 } = await session.save('first');
    await session.save('second', { backupId: id2 });
    await assert.rejects(session.save('which?'), TypeError);
    await assert.rejects(session.restore(), TypeError);
    assert.equal((await session.restore({ backupId: id2 })).text, 'second');
    assert.equal((await session.restore({ backupId: id1 })).text, 'first');
    const list = await session.backups();
    assert.deepEqual(list.map((b) => b.id).sort(), [id1, id2].sort());
    for (const b of list) assert.deepEqual(Object.keys(b).sort(), ['id', 'size', 'updatedAt', 'version']);
    await assert.rejects(session.restore({ backupId: 'NOT-AN-ID' }), TypeError);
    await assert.rejects(session.restore({ backupId: id1, version: 0 }), TypeError);
  });

  test('versions, deleteBackup and account', async () => {
    const { client } = setup();
    const { session } = await client.register(username('List'), PASSWORD);
    await rejectsWith(session.restore(), CODES.notFound);
    const { backupId } = await session.save('a');
    await session.save('b');
    const versions = await session.versions();
    assert.deepEqual(versions.map((v) => v.version), [2, 1]);
    const account = await session.account();
    assert.equal(account.backups, 1);
    assert.equal(account.versions, 2);
    assert.equal(await session.deleteBackup({ backupId }), true);
    assert.deepEqual(await session.backups(), []);
    await rejectsWith(session.versions({ backupId }), CODES.notFound);
  });

  test('rollback: a newest older than one this memory saw is reported, across clients sharing it', async () => {
    const memory = new Map();
    const { server, client } = setup({ memory });
    const name = username('Roll');
    const { session } = await client.register(name, PASSWORD);
    const { backupId } = await session.save('1');
    await session.save('2');
    await session.save('3');
    assert.equal(memory.get(`dailyreps-v2-seen:${session.accountId}:${backupId}`), 3);

    server.backups.get(`${session.accountId}/${backupId}`).versions.pop(); // the server forgets version 3
    const restored = await session.restore();
    assert.equal(restored.version, 2);
    assert.equal(restored.rollbackFrom, 3);

    const sameDevice = createClientV2({ baseUrl: BASE, fetch: server.fetch, memory });
    const again = await (await sameDevice.login(name, PASSWORD)).restore();
    assert.equal(again.rollbackFrom, 3, 'a new client on the same memory still warns');
    const newDevice = createClientV2({ baseUrl: BASE, fetch: server.fetch, memory: new Map() });
    assert.equal((await (await newDevice.login(name, PASSWORD)).restore()).rollbackFrom, undefined, 'a device that never saw 3 cannot tell');
    assert.equal((await session.restore({ version: 1 })).rollbackFrom, undefined, 'an old version asked for is no rollback');
  });

  test('memory: localStorage by default when there is one, a Map otherwise; a broken store costs only the warning', async () => {
    const server = fakeServerV2();
    const items = new Map();
    globalThis.localStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) };
    try {
      const client = createClientV2({ baseUrl: BASE, fetch: server.fetch });
      const { session } = await client.register(username('Local'), PASSWORD);
      const { backupId } = await session.save('x');
      assert.equal(items.get(`dailyreps-v2-seen:${session.accountId}:${backupId}`), '1');
    } finally {
      delete globalThis.localStorage;
    }
    const broken = { get: () => { throw new Error('blocked'); }, set: () => { throw new Error('full'); } };
    const client = createClientV2({ baseUrl: BASE, fetch: server.fetch, memory: broken });
    const { session } = await client.register(username('Broken'), PASSWORD);
    await session.save('y');
    assert.equal((await session.restore()).text, 'y');
    assert.throws(() => createClientV2({ baseUrl: BASE, fetch: server.fetch, memory: {} }), TypeError);
  });

  test('an ended session is auth; after logout nothing is sent', async () => {
    const { server, client } = setup();
    const name = username('Out');
    const { session } = await client.register(name, PASSWORD);
    server.sessions.clear(); // expired on the server
    await rejectsWith(session.backups(), CODES.auth, /Sign in again/);
    await rejectsWith(session.save('x'), CODES.auth);

    const live = await client.login(name, PASSWORD);
    assert.equal(await live.logout(), true);
    assert.equal(server.sessions.size, 0);
    const n = server.requests.length;
    await rejectsWith(live.restore(), CODES.auth);
    await rejectsWith(live.logout(), CODES.auth);
    assert.equal(server.requests.length, n);
  });

  test('changePassword re-wraps the data key: no upload, old password refused, other sessions ended', async () => {
    const { server, client } = setup();
    const name = username('Change');
    const { session } = await client.register(name, PASSWORD);
    await session.save('stays');
    const other = await client.login(name, PASSWORD);

    const n = server.requests.length;
    await rejectsWith(session.changePassword('not the password', 'new password'), CODES.wrongPassword);
    assert.equal(server.requests.length, n, 'a wrong current password is caught before any request');

    await session.changePassword(PASSWORD, 'new password');
    assert.ok(!server.requests.slice(n).some((r) => r.method === 'PUT'), 'no backup uploaded again');
    assert.equal((await session.restore()).text, 'stays', 'this session goes on with its new token');
    await rejectsWith(other.backups(), CODES.auth);
    await rejectsWith(client.login(name, PASSWORD), CODES.wrongPassword);
    assert.equal((await (await client.login(name, 'new password')).restore()).text, 'stays');
    await session.changePassword('new password', 'third password');
    assert.equal((await (await client.login(name, 'third password')).restore()).text, 'stays');
  });

  test('deleteAccount checks the password, then removes everything', async () => {
    const { server, client } = setup();
    const name = username('Delete');
    const { session } = await client.register(name, PASSWORD);
    await session.save('gone');
    const n = server.requests.length;
    await rejectsWith(session.deleteAccount('wrong'), CODES.wrongPassword);
    assert.equal(server.requests.length, n);
    assert.equal(await session.deleteAccount(PASSWORD), true);
    assert.equal(server.accounts.size, 0);
    assert.equal(server.backups.size, 0);
    await rejectsWith(client.login(name, PASSWORD), CODES.wrongPassword);
    await rejectsWith(session.backups(), CODES.auth);
  });
});

describe('recover', () => {
  test('the recovery code sets a new password, keeps every backup and is replaced', async () => {
    const { server, client } = setup();
    const name = username('Recover');
    const { session, recoveryCode } = await client.register(name, PASSWORD);
    await session.save('before');
    await session.save('before, 2');

    const typed = recoveryCode.toLowerCase().replaceAll('-', ' ').replaceAll('0', 'o').replaceAll('1', 'l');
    const out = await client.recover(name, typed, 'brand new password');
    assert.notEqual(out.recoveryCode, recoveryCode);
    assert.equal((await out.session.restore()).text, 'before, 2');
    assert.equal((await out.session.restore({ version: 1 })).text, 'before');
    await rejectsWith(session.backups(), CODES.auth, undefined);
    await rejectsWith(client.login(name, PASSWORD), CODES.wrongPassword);
    await client.login(name, 'brand new password');
    await rejectsWith(client.recover(name, recoveryCode, 'again'), CODES.wrongPassword, /wrong username or password/i);
    const second = await client.recover(name, out.recoveryCode, 'once more');
    assert.equal((await second.session.restore()).text, 'before, 2');
    const body = server.requests.findLast((r) => r.path === '/api/v2/recover').body;
    assert.deepEqual(Object.keys(body).sort(), ['accountId', 'new', 'recovery', 'recoveryAuth']);
  });

  test('a malformed code is invalid before any request; a wrong one is wrong_password', async () => {
    const { server, client } = setup();
    const name = username('BadCode');
    await client.register(name, PASSWORD);
    const n = server.requests.length;
    await rejectsWith(client.recover(name, 'ABCD-EFGH', 'x'), CODES.invalid);
    await rejectsWith(client.recover(name, 'UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU', 'x'), CODES.invalid);
    assert.equal(server.requests.length, n);
    await rejectsWith(client.recover(name, '0000-0000-0000-0000-0000-0000-0000-0000', 'x'), CODES.wrongPassword);
  });
});

describe('upgrade from v1', () => {
  async function seedV1(server, name, password, texts) {
    const key = await deriveKey(name, password);
    const userId = await deriveUserId(name);
    const datas = [];
    for (const t of texts) datas.push(await seal(key, t));
    server.addV1(userId, await deriveStorageKey(userId, password), datas);
  }

  test('moves the v1 backup: old versions open with the legacy key, new ones are v2', async () => {
    const { server, client } = setup();
    const name = username('Up');
    await seedV1(server, name, PASSWORD, ['v1 first', 'v1 second']);
    const { session, recoveryCode, backupId } = await client.upgrade(name, PASSWORD);
    assert.match(backupId, /^[0-9a-f]{32}$/);
    assert.match(recoveryCode, /^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
    const body = server.requests.find((r) => r.path === '/api/v2/upgrade').body;
    assert.equal(body.userId, await deriveUserId(name));
    assert.equal(body.storageKey, await deriveStorageKey(body.userId, PASSWORD));
    const master = pbkdf2Sync(Buffer.from(PASSWORD), Buffer.from(body.kdf.salt, 'base64'), body.kdf.iterations, 32, 'sha256');
    const dataKey = gcmOpen(hkdf(master, 'wrap'), body.wrappedKey, keyAd('data-key', body.userId));
    const legacy = gcmOpen(dataKey, body.wrappedLegacyKey, keyAd('legacy-key', body.userId));
    assert.deepEqual(legacy, pbkdf2Sync(Buffer.from(PASSWORD), Buffer.from(name.toLowerCase()), 100_000, 32, 'sha256'));

    assert.equal((await session.restore()).text, 'v1 second');
    assert.equal((await session.restore({ version: 1 })).text, 'v1 first');
    assert.equal((await session.save('v2 third')).version, 3);
    assert.equal((await session.restore()).text, 'v2 third');

    // After a password change the v1 versions still open: the legacy key rides on the data key.
    await session.changePassword(PASSWORD, 'newer');
    const later = await client.login(name, 'newer');
    assert.equal((await later.restore({ version: 1 })).text, 'v1 first');
    assert.equal((await client.recover(name, recoveryCode, 'newest')).session.accountId, body.userId);
  });

  test('an answer lost after the commit: the same material is sent again and its recovery code works', async () => {
    const { server, client } = setup();
    const name = username('Lost');
    await seedV1(server, name, PASSWORD, ['precious']);
    let lost = false;
    server.intercept = async (r, answer) => {
      if (r.path !== '/api/v2/upgrade' || lost) return undefined;
      lost = true;
      assert.equal((await answer()).status, 200, 'the server committed');
      throw new TypeError('connection reset');
    };
    const { session, recoveryCode } = await client.upgrade(name, PASSWORD);
    const sent = server.requests.filter((r) => r.path === '/api/v2/upgrade');
    assert.equal(sent.length, 2, 'retried once');
    assert.deepEqual(sent.at(-1).body, sent[0].body, 'the very same material');
    assert.equal((await session.restore()).text, 'precious');
    assert.equal((await (await client.recover(name, recoveryCode, 'n')).session.restore()).text, 'precious');
  });

  test('offline throughout: the error is network, and the next call resends the kept material', async () => {
    const { server, client } = setup();
    const name = username('Offline');
    await seedV1(server, name, PASSWORD, ['kept']);
    server.intercept = (r) => {
      if (r.path === '/api/v2/upgrade') throw new TypeError('offline');
    };
    await rejectsWith(client.upgrade(name, PASSWORD), CODES.network);
    const tries = server.requests.filter((r) => r.path === '/api/v2/upgrade');
    assert.equal(tries.length, 3);
    server.intercept = undefined;
    const { session } = await client.upgrade(name, PASSWORD);
    assert.deepEqual(server.requests.findLast((r) => r.path === '/api/v2/upgrade').body, tries[0].body);
    assert.equal((await session.restore()).text, 'kept');
  });

  test('wrong password is not_found; an account with other material is name_taken', async () => {
    const { server, client } = setup();
    const name = username('NoV1');
    await seedV1(server, name, PASSWORD, ['x']);
    await rejectsWith(client.upgrade(name, 'not it'), CODES.notFound);
    await client.upgrade(name, PASSWORD);
    await seedV1(server, name, 'an older password', ['older']);
    await rejectsWith(createClientV2({ baseUrl: BASE, fetch: server.fetch, memory: new Map() }).upgrade(name, 'an older password'), CODES.nameTaken);
  });

  test('signed in, adoptV1 moves another v1 backup of the username into the account', async () => {
    const { server, client } = setup();
    const name = username('Adopt');
    await seedV1(server, name, PASSWORD, ['current']);
    await seedV1(server, name, 'an older password', ['old one', 'old two']);
    const { session, backupId } = await client.upgrade(name, PASSWORD);
    const adopted = await session.adoptV1(name, 'an older password');
    assert.notEqual(adopted.backupId, backupId);
    assert.equal((await session.restore({ backupId: adopted.backupId })).text, 'old two');
    assert.equal((await session.restore({ backupId: adopted.backupId, version: 1 })).text, 'old one');
    assert.equal((await session.restore({ backupId })).text, 'current');
    assert.equal((await session.backups()).length, 2);
    await assert.rejects(session.adoptV1('someone else', 'x'), TypeError);
  });
});

describe('derivation progress', () => {
  test('deriveMasterWithProgress equals deriveMaster and ends at done === total', async () => {
    const salt = new Uint8Array(16).fill(9);
    const events = [];
    const m = await deriveMasterWithProgress('pw', salt, MIN_ITERATIONS, (e) => events.push(e));
    assert.deepEqual(m, await deriveMaster('pw', salt, MIN_ITERATIONS));
    assert.deepEqual(events.at(-1), { phase: 'derive', done: MIN_ITERATIONS, total: MIN_ITERATIONS });
    assert.ok(events.length >= 3, `it shows it is working while it runs (${events.length} events)`);
    assert.ok(events.slice(1, -1).every((e) => e.done > 0 && e.done < e.total));
    const throwing = await deriveMasterWithProgress('pw', salt, MIN_ITERATIONS, () => {
      throw new Error('broken callback');
    });
    assert.deepEqual(throwing, m);
  });

  test('info is asked once', async () => {
    const { server, client } = setup();
    await client.info();
    await client.register(username('Info'), PASSWORD);
    assert.equal(server.requests.filter((r) => r.path === '/api/info').length, 1);
  });
});

test('register, login and recover each run the slow step exactly once', async () => {
  const { server, client } = setup();
  const name = username('Cost');
  const events = [];
  const onProgress = (e) => e.phase === 'derive' && e.done === 0 && events.push(e.total);
  const { recoveryCode } = await client.register(name, PASSWORD, { onProgress });
  await client.login(name, PASSWORD, { onProgress });
  await client.recover(name, recoveryCode, 'x', { onProgress });
  assert.deepEqual(events, [MIN_ITERATIONS, MIN_ITERATIONS, MIN_ITERATIONS]);
  assert.ok(fromBase64(server.accounts.get(await deriveUserId(name)).kdf.salt).length === 16);
});
