// An in-memory stand-in for the /api/v2 routes of docs/protocol-v2.md, used
// as the fetch of the client's unit tests: it keeps what a server keeps
// (verifiers, wrapped keys, opaque data, sessions) and answers with the
// documented statuses, so that whole flows run without a server. It checks
// only what the wire table promises; the real routes are tested in Go and by
// web/test/client-v2-server.test.mjs.

import { createHash, randomBytes } from 'node:crypto';

const json = (status, body, headers = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
const fail = (status, error, headers) => json(status, { error }, headers);
const WRONG = 'Wrong username or password.';
const HEX64 = /^[0-9a-f]{64}$/;
const ID = /^[0-9a-f]{32}$/;

export function fakeServerV2({ iterations = 600_000 } = {}) {
  const accounts = new Map(); // accountId -> account
  const sessions = new Map(); // token -> accountId
  const backups = new Map(); // accountId + '/' + backupId -> {versions: [], legacyKey}
  const v1 = new Map(); // userId + '/' + storageKey -> versions
  const requests = [];
  let clock = Date.parse('2026-12-07T01:00:00Z');
  const at = () => new Date((clock += 1000)).toISOString();

  function session(accountId) {
    const token = randomBytes(32).toString('base64url');
    sessions.set(token, accountId);
    return { token, expiresAt: new Date(clock + 3600_000).toISOString() };
  }

  function endSessions(accountId) {
    for (const [t, a] of sessions) if (a === accountId) sessions.delete(t);
  }

  function validNew(n) {
    return n && typeof n === 'object' && validKdf(n.kdf) && HEX64.test(n.auth ?? '') && typeof n.wrappedKey === 'string';
  }

  function validKdf(kdf) {
    return (
      kdf?.name === 'PBKDF2-SHA256' &&
      Number.isSafeInteger(kdf.iterations) &&
      kdf.iterations >= 600_000 &&
      typeof kdf.salt === 'string' &&
      Buffer.from(kdf.salt, 'base64').length === 16
    );
  }

  function backupsOf(accountId) {
    return [...backups.entries()].filter(([k]) => k.startsWith(`${accountId}/`)).map(([k, b]) => [k.slice(accountId.length + 1), b]);
  }

  const routes = [
    ['GET', /^\/api\/info$/, () => json(200, { protocols: ['v1', 'v2'], kdf: { name: 'PBKDF2-SHA256', iterations, minIterations: 600_000 } })],
    [
      'POST',
      /^\/api\/v2\/prelogin$/,
      ({ body }) => {
        const a = accounts.get(body.accountId);
        if (a) return json(200, { kdf: a.kdf });
        const salt = createHash('sha256').update(`fake-salt${body.accountId}`).digest().subarray(0, 16).toString('base64');
        return json(200, { kdf: { name: 'PBKDF2-SHA256', iterations, salt } });
      },
    ],
    [
      'POST',
      /^\/api\/v2\/register$/,
      ({ body }) => {
        if (!HEX64.test(body.accountId ?? '') || !validNew(body) || !HEX64.test(body.recoveryAuth ?? '')) return fail(400, 'bad request');
        const v1User = [...v1.keys()].some((k) => k.startsWith(`${body.accountId}/`));
        if (accounts.has(body.accountId) || v1User) return fail(409, 'This username is taken.');
        const { accountId, kdf, auth, wrappedKey, recoveryAuth, recoveryWrappedKey } = body;
        accounts.set(accountId, { kdf, auth, wrappedKey, recoveryAuth, recoveryWrappedKey });
        return json(200, session(accountId));
      },
    ],
    [
      'POST',
      /^\/api\/v2\/login$/,
      ({ body }) => {
        const a = accounts.get(body.accountId);
        if (!a || a.auth !== body.auth) return fail(401, WRONG);
        const out = { ...session(body.accountId), wrappedKey: a.wrappedKey };
        if (a.kdf.iterations < iterations) out.kdfUpgrade = { iterations };
        return json(200, out);
      },
    ],
    [
      'POST',
      /^\/api\/v2\/logout$/,
      ({ token }) => {
        sessions.delete(token);
        return json(200, { success: true });
      },
      'session',
    ],
    [
      'POST',
      /^\/api\/v2\/password$/,
      ({ body, accountId }) => {
        const a = accounts.get(accountId);
        if (!validNew(body.new)) return fail(400, 'bad request');
        if (a.auth !== body.auth) return fail(401, WRONG);
        Object.assign(a, { kdf: body.new.kdf, auth: body.new.auth, wrappedKey: body.new.wrappedKey });
        endSessions(accountId);
        return json(200, session(accountId));
      },
      'session',
    ],
    [
      'POST',
      /^\/api\/v2\/recover\/key$/,
      ({ body }) => {
        const a = accounts.get(body.accountId);
        if (!a || a.recoveryAuth !== body.recoveryAuth) return fail(401, WRONG);
        return json(200, { recoveryWrappedKey: a.recoveryWrappedKey });
      },
    ],
    [
      'POST',
      /^\/api\/v2\/recover$/,
      ({ body }) => {
        const a = accounts.get(body.accountId);
        if (!validNew(body.new) || !HEX64.test(body.recovery?.recoveryAuth ?? '')) return fail(400, 'bad request');
        if (!a || a.recoveryAuth !== body.recoveryAuth) return fail(401, WRONG);
        Object.assign(a, {
          kdf: body.new.kdf,
          auth: body.new.auth,
          wrappedKey: body.new.wrappedKey,
          recoveryAuth: body.recovery.recoveryAuth,
          recoveryWrappedKey: body.recovery.recoveryWrappedKey,
        });
        endSessions(body.accountId);
        return json(200, session(body.accountId));
      },
    ],
    [
      'POST',
      /^\/api\/v2\/upgrade$/,
      ({ body }) => {
        const b = body;
        // Every new-account member is checked, also when an account exists and they go unused.
        if (!ID.test(b.backupId ?? '') || !validNew(b) || !HEX64.test(b.recoveryAuth ?? '') || typeof b.recoveryWrappedKey !== 'string') {
          return fail(400, 'bad request');
        }
        if (typeof b.wrappedLegacyKey !== 'string') return fail(400, 'bad request');
        const a = accounts.get(b.userId);
        const moved = backups.get(`${b.userId}/${b.backupId}`);
        if (a && a.auth !== b.auth) return fail(409, 'This username already has an account.');
        if (a && moved) return json(200, session(b.userId)); // resumed: same material
        const versions = v1.get(`${b.userId}/${b.storageKey}`);
        if (!versions) return fail(404, 'No backup found for this username and password.');
        if (!a) {
          accounts.set(b.userId, { kdf: b.kdf, auth: b.auth, wrappedKey: b.wrappedKey, recoveryAuth: b.recoveryAuth, recoveryWrappedKey: b.recoveryWrappedKey });
        }
        backups.set(`${b.userId}/${b.backupId}`, { versions, legacyKey: b.wrappedLegacyKey });
        v1.delete(`${b.userId}/${b.storageKey}`);
        return json(200, session(b.userId));
      },
    ],
    [
      'GET',
      /^\/api\/v2\/backups$/,
      ({ accountId }) => {
        const list = backupsOf(accountId).map(([id, b]) => {
          const n = b.versions.at(-1);
          return { id, version: n.version, size: n.data.length, updatedAt: n.updatedAt };
        });
        return json(200, { backups: list });
      },
      'session',
    ],
    [
      'PUT',
      /^\/api\/v2\/backups\/([^/]+)$/,
      ({ accountId, m, body }) => {
        if (!ID.test(m[1])) return fail(400, 'bad id');
        if (!Number.isSafeInteger(body.version) || typeof body.data !== 'string') return fail(400, 'bad request');
        const key = `${accountId}/${m[1]}`;
        const b = backups.get(key) ?? { versions: [] };
        const newest = b.versions.at(-1)?.version ?? 0;
        if (body.version !== newest + 1) return fail(412, 'The backup changed.', { ETag: `"${newest}"` });
        const v = { version: body.version, data: body.data, updatedAt: at() };
        b.versions.push(v);
        backups.set(key, b);
        return json(200, { version: v.version, updatedAt: v.updatedAt }, { ETag: `"${v.version}"` });
      },
      'session',
    ],
    [
      'GET',
      /^\/api\/v2\/backups\/([^/]+)\/versions$/,
      ({ accountId, m }) => {
        const b = backups.get(`${accountId}/${m[1]}`);
        if (!b) return fail(404, 'No backup found.');
        const versions = [...b.versions].reverse().map((v) => ({ version: v.version, updatedAt: v.updatedAt, size: v.data.length }));
        return json(200, { versions });
      },
      'session',
    ],
    [
      'GET',
      /^\/api\/v2\/backups\/([^/]+)$/,
      ({ accountId, m, url }) => {
        const b = backups.get(`${accountId}/${m[1]}`);
        const want = url.searchParams.get('version');
        const v = b && (want === null ? b.versions.at(-1) : b.versions.find((x) => x.version === Number(want)));
        if (!v) return fail(404, 'No backup found.');
        const out = { data: v.data, version: v.version, updatedAt: v.updatedAt };
        if (b.legacyKey) out.wrappedLegacyKey = b.legacyKey;
        return json(200, out, { ETag: `"${v.version}"` });
      },
      'session',
    ],
    [
      'DELETE',
      /^\/api\/v2\/backups\/([^/]+)$/,
      ({ accountId, m }) => {
        if (!backups.delete(`${accountId}/${m[1]}`)) return fail(404, 'No backup found.');
        return json(200, { success: true });
      },
      'session',
    ],
    [
      'GET',
      /^\/api\/v2\/account$/,
      ({ accountId }) => {
        const list = backupsOf(accountId);
        const bytesUsed = list.reduce((n, [, b]) => n + b.versions.reduce((m, v) => m + v.data.length, 0), 0);
        const versions = list.reduce((n, [, b]) => n + b.versions.length, 0);
        return json(200, { bytesUsed, quotaBytes: 1 << 20, backups: list.length, versions, events: [] });
      },
      'session',
    ],
    [
      'DELETE',
      /^\/api\/v2\/account$/,
      ({ accountId, body }) => {
        if (accounts.get(accountId).auth !== body.auth) return fail(401, WRONG);
        accounts.delete(accountId);
        for (const [id] of backupsOf(accountId)) backups.delete(`${accountId}/${id}`);
        endSessions(accountId);
        return json(200, { success: true });
      },
      'session',
    ],
  ];

  async function fetch(href, init = {}) {
    const url = new URL(href);
    const method = init.method ?? 'GET';
    const headers = new Headers(init.headers);
    const body = init.body === undefined ? {} : JSON.parse(init.body);
    const request = { method, path: url.pathname, url, headers, body };
    requests.push(request);
    const answer = (overrides = {}) => route({ ...request, ...overrides });
    if (server.intercept) {
      const r = await server.intercept(request, answer);
      if (r) return r;
    }
    return answer();
  }

  function route(request) {
    for (const [m, re, handler, needs] of routes) {
      const match = re.exec(request.url.pathname);
      if (!match || m !== request.method) continue;
      let accountId;
      let token;
      if (needs === 'session') {
        token = /^Bearer (.+)$/.exec(request.headers.get('Authorization') ?? '')?.[1];
        accountId = token && sessions.get(token);
        if (!accountId) return fail(401, 'Sign in again.');
      }
      return handler({ ...request, m: match, accountId, token });
    }
    return fail(404, 'no route');
  }

  const server = {
    fetch,
    requests,
    accounts,
    sessions,
    backups,
    v1,
    /**
     * Optional hook (request, answer): return a Response, or throw, in place
     * of the routes; answer(overrides) runs the routes on the request.
     */
    intercept: undefined,
    set iterations(n) {
      iterations = n;
    },
    /** A v1 backup as the v1 routes keep it: versions under (userId, storageKey). */
    addV1(userId, storageKey, datas) {
      v1.set(`${userId}/${storageKey}`, datas.map((data, i) => ({ version: i + 1, data, updatedAt: at() })));
    },
  };
  return server;
}
