// Every flow of the protocol v2 client against a real server, written once
// and run twice: in Node, and in Chromium through page.evaluate. So the
// function stands alone (Playwright sends its source to the page): it
// imports the modules itself, from a file URL in Node and from the server in
// the browser, and it checks with its own helpers.
//
//   await v2Flow(name, { moduleBase, baseUrl, signingSecret, tag, state })
//
// A flow returns plain data (passed on as `state` to a flow that continues
// it, for example after a reload) and throws an Error naming the first
// check that failed.

export async function v2Flow(name, { moduleBase, baseUrl, signingSecret, tag, state = {} }) {
  const v2 = await import(`${moduleBase}dailyreps-v2.js`);
  const v1 = await import(`${moduleBase}dailyreps-backup.js`);

  const fail = (message) => {
    throw new Error(`${name}: ${message}`);
  };
  const eq = (got, want, what) => {
    const [a, b] = [JSON.stringify(got), JSON.stringify(want)];
    if (a !== b) fail(`${what}: got ${a}, want ${b}`);
  };
  const ok = (cond, what) => cond || fail(what);
  const rejects = async (promise, code, what) => {
    try {
      await promise;
    } catch (e) {
      if (e?.code !== code) fail(`${what}: got ${e?.code} (${e?.message}), want ${code}`);
      return e;
    }
    return fail(`${what}: it succeeded, want ${code}`);
  };
  // One memory for every client of a flow: in the browser the default,
  // localStorage, which outlives a reload; in Node a Map.
  const memory = typeof localStorage === 'undefined' ? (globalThis.__v2FlowMemory ??= new Map()) : undefined;
  const client = (extra = {}) => v2.createClientV2({ baseUrl, signingSecret, memory, ...extra });
  const v1client = () => v1.createClient({ baseUrl, signingSecret });
  const username = (prefix) => `${prefix}-${tag}-${Math.random().toString(16).slice(2, 8)}`;
  const pw = 'pässwörd – correct horse';
  const pw2 = 'another one, longer still';

  /** A fetch that records each request (method, path, body) before sending it. */
  function recording(inner = globalThis.fetch.bind(globalThis)) {
    const seen = [];
    const f = async (url, init = {}) => {
      seen.push({ method: init.method ?? 'GET', path: new URL(url).pathname, body: init.body });
      return inner(url, init);
    };
    f.seen = seen;
    return f;
  }

  const doc = {
    app: 'dailyreps',
    note: 'Grüße 💪',
    workouts: Array.from({ length: 300 }, (_, i) => ({ day: `2026-${String((i % 12) + 1).padStart(2, '0')}-01`, reps: [20, 18, 15] })),
  };

  const flows = {
    async basics() {
      const c = client();
      const info = await c.info();
      ok(info.protocols?.includes('v2'), 'the server lists v2');
      const user = username('Basics');
      const events = [];
      const { session, recoveryCode } = await c.register(user, pw, { onProgress: (e) => events.push(e) });
      ok(/^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/.test(recoveryCode), `recovery code ${recoveryCode}`);
      const derive = events.filter((e) => e.phase === 'derive');
      eq(derive.at(-1), { phase: 'derive', done: info.kdf.iterations, total: info.kdf.iterations }, 'derivation ends at done === total');
      ok(typeof session.expiresAt === 'string' && Date.parse(session.expiresAt) > Date.now(), 'expiresAt ahead');

      const up = [];
      const first = await session.save(doc, { onProgress: (e) => up.push(e) });
      eq(first.version, 1, 'first version');
      ok(/^[0-9a-f]{32}$/.test(first.backupId), 'random backupId');
      ok(up.some((e) => e.phase === 'upload'), 'upload progress');
      const second = await session.save('a plain string, kept as is', { compress: false });
      eq([second.backupId, second.version], [first.backupId, 2], 'the single backup, next version');

      const versions = await session.versions();
      eq(versions.map((v) => v.version), [2, 1], 'versions newest first');
      const plainSize = new TextEncoder().encode(JSON.stringify(doc)).length;
      ok(versions[1].size < plainSize / 4, `compressed: stored ${versions[1].size} bytes of a ${plainSize}-byte document`);

      const latest = await session.restore();
      eq([latest.text, latest.version, latest.rollbackFrom], ['a plain string, kept as is', 2, undefined], 'latest');
      const down = [];
      const old = await session.restore({ version: 1, onProgress: (e) => down.push(e) });
      eq(old.document, doc, 'version 1 document');
      ok(down.at(-1)?.phase === 'download' && down.at(-1).done > 0, 'download progress');
      eq((await session.backups()).map((b) => [b.id, b.version]), [[first.backupId, 2]], 'backups');
      const account = await session.account();
      eq([account.backups, account.versions], [1, 2], 'account counts');
      ok(account.bytesUsed > 0, 'bytes used');

      // Another device: the username in another case, the same account.
      const other = await client().login(user.toUpperCase(), pw);
      eq(other.accountId, session.accountId, 'same account');
      eq((await other.restore({ version: 1 })).document, doc, 'read on another device');
      await rejects(client().login(user, 'not the password'), v2.ERROR_CODES_V2.wrongPassword, 'wrong password');
      await rejects(client().login(username('Nobody'), pw), v2.ERROR_CODES_V2.wrongPassword, 'unknown username');
      await rejects(client().register(user.toLowerCase(), pw2), v2.ERROR_CODES_V2.nameTaken, 'taken name');
      await other.logout();
      await rejects(other.backups(), v2.ERROR_CODES_V2.auth, 'after logout');
      eq((await session.backups()).length, 1, 'the other session is untouched');

      await session.deleteBackup();
      eq(await session.backups(), [], 'deleted');
      await rejects(session.restore({ backupId: first.backupId }), 'not_found', 'a deleted backup');
      await session.logout();
      return { user };
    },

    async password() {
      const c = client();
      const user = username('Password');
      const { session } = await c.register(user, pw);
      await session.save(doc);
      const other = await c.login(user, pw);
      await rejects(session.changePassword('not it', pw2), v2.ERROR_CODES_V2.wrongPassword, 'wrong current password');
      const rec = recording();
      const watched = await client({ fetch: rec }).login(user, pw);
      await watched.changePassword(pw, pw2);
      ok(!rec.seen.some((r) => r.method === 'PUT'), 'no backup uploaded again');
      eq((await watched.restore()).document, doc, 'this session goes on');
      await rejects(other.backups(), v2.ERROR_CODES_V2.auth, 'other sessions end');
      await rejects(session.backups(), v2.ERROR_CODES_V2.auth, 'every other session ends');
      await rejects(c.login(user, pw), v2.ERROR_CODES_V2.wrongPassword, 'old password');
      eq((await (await c.login(user, pw2)).restore()).document, doc, 'new password');
      return {};
    },

    async recover() {
      const c = client();
      const user = username('Recover');
      const { session, recoveryCode } = await c.register(user, pw);
      await session.save('before the loss');
      await session.save('before the loss, 2');
      const typed = recoveryCode.toLowerCase().replaceAll('-', ' ');
      const out = await c.recover(user, typed, pw2);
      ok(out.recoveryCode !== recoveryCode, 'a new recovery code');
      eq((await out.session.restore()).text, 'before the loss, 2', 'newest kept');
      eq((await out.session.restore({ version: 1 })).text, 'before the loss', 'history kept');
      await rejects(session.backups(), v2.ERROR_CODES_V2.auth, 'old sessions end');
      await rejects(c.login(user, pw), v2.ERROR_CODES_V2.wrongPassword, 'the forgotten password');
      await c.login(user, pw2);
      await rejects(c.recover(user, recoveryCode, 'x'), v2.ERROR_CODES_V2.wrongPassword, 'a used code');
      eq((await (await c.recover(user, out.recoveryCode, pw)).session.restore()).text, 'before the loss, 2', 'the new code');
      return {};
    },

    async upgrade() {
      const user = username('Upgrade');
      const legacy = await v1client().account(user, pw);
      await legacy.register();
      await legacy.save(JSON.stringify({ saved: 'under v1', n: 1 }));
      await legacy.save(JSON.stringify({ saved: 'under v1', n: 2 }));

      const c = client();
      const { session, recoveryCode, backupId } = await c.upgrade(user, pw);
      ok(/^[0-9a-f]{32}$/.test(backupId), 'backupId');
      ok(recoveryCode.length === 39, 'recovery code');
      eq((await session.restore()).document, { saved: 'under v1', n: 2 }, 'the newest v1 version');
      eq((await session.restore({ version: 1 })).document, { saved: 'under v1', n: 1 }, 'the oldest v1 version');
      eq((await session.save({ saved: 'under v2', n: 3 })).version, 3, 'numbers go on');
      eq((await session.restore()).document, { saved: 'under v2', n: 3 }, 'v2 on top');
      await rejects(legacy.restore(), 'not_found', 'the v1 key is retired');

      await session.changePassword(pw, pw2);
      const later = await c.login(user, pw2);
      eq((await later.restore({ version: 2 })).document, { saved: 'under v1', n: 2 }, 'v1 versions after a password change');
      eq((await (await c.recover(user, recoveryCode, pw)).session.restore({ version: 1 })).document, { saved: 'under v1', n: 1 }, 'and after a recovery');
      return {};
    },

    async upgradeInterrupted() {
      const user = username('Interrupted');
      const legacy = await v1client().account(user, pw);
      await legacy.register();
      await legacy.save('only copy');
      let cut = false;
      const rec = recording(async (url, init) => {
        const res = await globalThis.fetch(url, init);
        if (!cut && new URL(url).pathname === '/api/v2/upgrade') {
          cut = true;
          if (res.status !== 200) fail(`the first upgrade answered ${res.status}`);
          throw new TypeError('the connection dropped before the answer arrived');
        }
        return res;
      });
      const { session, recoveryCode } = await client({ fetch: rec }).upgrade(user, pw);
      const sent = rec.seen.filter((r) => r.path === '/api/v2/upgrade');
      eq(sent.length, 2, 'sent again');
      eq(sent[1].body, sent[0].body, 'the same material');
      eq((await session.restore()).text, 'only copy', 'restored after the resumed upgrade');
      eq((await (await client().recover(user, recoveryCode, pw2)).session.restore()).text, 'only copy', 'its recovery code is the stored one');
      return {};
    },

    async adopt() {
      const user = username('Adopt');
      const older = await v1client().account(user, 'an older password');
      await older.register();
      await older.save('from the older password');
      const current = await v1client().account(user, pw);
      await current.save('from the current password');
      const { session, backupId } = await client().upgrade(user, pw);
      const adopted = await session.adoptV1(user, 'an older password');
      ok(adopted.backupId !== backupId, 'a second backup');
      eq((await session.restore({ backupId: adopted.backupId })).text, 'from the older password', 'adopted backup');
      eq((await session.restore({ backupId })).text, 'from the current password', 'first backup');
      eq((await session.backups()).length, 2, 'two backups');
      await rejects(older.restore(), 'not_found', 'the older v1 key is retired too');
      return {};
    },

    async deleteAccount() {
      const c = client();
      const user = username('Delete');
      const { session } = await c.register(user, pw);
      await session.save(doc);
      await rejects(session.deleteAccount('not it'), v2.ERROR_CODES_V2.wrongPassword, 'wrong password');
      eq(await session.deleteAccount(pw), true, 'deleted');
      await rejects(session.backups(), v2.ERROR_CODES_V2.auth, 'session gone');
      await rejects(c.login(user, pw), v2.ERROR_CODES_V2.wrongPassword, 'account gone');
      const again = await c.register(user, pw2);
      eq(await again.session.backups(), [], 'the name is free and starts empty');
      return {};
    },

    // The server answers "the newest" with an authentic older version, as a
    // server restored from an old copy (or lying) would.
    async rollback() {
      const user = username('Rollback');
      const { session } = await client().register(user, pw);
      const { backupId } = await session.save('one');
      await session.save('two');
      await session.save('three');
      eq((await session.restore()).rollbackFrom, undefined, 'no rollback yet');
      return { user, backupId };
    },

    async rollbackSeen() {
      const { user, backupId } = state;
      // Keeps the server's answer for version 2 and gives it back, as it
      // is, when the newest is asked for: requests stay signed as sent.
      const serving2 = () => {
        let old;
        return async (url, init) => {
          const u = new URL(url);
          const res = await globalThis.fetch(url, init);
          if (u.pathname !== `/api/v2/backups/${backupId}`) return res;
          if (u.searchParams.get('version') === '2') {
            old = await res.text();
            return new Response(old, { status: res.status, headers: res.headers });
          }
          return old === undefined ? res : new Response(old, { status: 200, headers: { 'Content-Type': 'application/json' } });
        };
      };
      const session = await client({ fetch: serving2() }).login(user, pw);
      eq((await session.restore({ version: 2 })).rollbackFrom, undefined, 'an old version asked for is no rollback');
      const r = await session.restore();
      eq([r.text, r.version, r.rollbackFrom], ['two', 2, 3], 'rollback reported');
      // A device with no memory of it still notices when the listing says 3.
      const fresh = v2.createClientV2({ baseUrl, signingSecret, fetch: serving2(), memory: new Map() });
      const elsewhere = await fresh.login(user, pw);
      await elsewhere.restore({ version: 2, backupId });
      eq((await elsewhere.restore()).rollbackFrom, 3, 'the listing and the restore disagree');
      return {};
    },

    // The server asks for more iterations than the account has: the login
    // raises it with the same password, once.
    async kdfRaise() {
      const c = client();
      const info = await c.info();
      ok(info.kdf.iterations > v2.MIN_ITERATIONS, 'the server asks for more than the minimum');
      const user = username('Raise');
      const { session } = await c.register(user, pw, { iterations: v2.MIN_ITERATIONS });
      await session.save('raised');
      const rec = recording();
      const events = [];
      const raised = await client({ fetch: rec }).login(user, pw, { onProgress: (e) => events.push(e) });
      eq(
        rec.seen.map((r) => r.path),
        ['/api/v2/prelogin', '/api/v2/login', '/api/v2/password'],
        'prelogin, login, then the raise',
      );
      eq(JSON.parse(rec.seen[2].body).new.kdf.iterations, info.kdf.iterations, 'raised to the server setting');
      eq(
        events.filter((e) => e.done === e.total).map((e) => e.total),
        [v2.MIN_ITERATIONS, info.kdf.iterations],
        'two derivations reported',
      );
      eq((await raised.restore()).text, 'raised', 'the raised session reads');
      await rejects(session.backups(), v2.ERROR_CODES_V2.auth, 'the raise ends other sessions');
      const again = recording();
      await client({ fetch: again }).login(user, pw);
      eq(again.seen.map((r) => r.path), ['/api/v2/prelogin', '/api/v2/login'], 'raised once');
      return {};
    },
  };

  if (!flows[name]) fail('no such flow');
  return flows[name]();
}

/** The flows in the order the tests run them (rollbackSeen continues rollback). */
export const FLOWS = ['basics', 'password', 'recover', 'upgrade', 'upgradeInterrupted', 'adopt', 'deleteAccount', 'kdfRaise'];
