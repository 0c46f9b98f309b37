package routes_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// v2Fixture is the protocol v2 part of the bad-input fixture: an account
// with a session and one backup.
type v2Fixture struct {
	u      *v2User
	backup string
}

func newV2Fixture(t *testing.T, s *servertest.Server) v2Fixture {
	t.Helper()
	u := newV2User(t, "bad-input-account", "pw")
	v2Register(t, s, u)
	fx := v2Fixture{u: u, backup: strings.Repeat("0123456789abcdef", 2)}
	v2Save(t, s, u, fx.backup, 1, "the fixture's backup")
	return fx
}

// v2BadInputCases are bad requests to every protocol v2 route. Session
// routes carry the fixture's live session, so that each case reaches the
// check it is about.
func v2BadInputCases(maxData int64, fx v2Fixture) []badCase {
	u := fx.u
	auth := map[string]string{"Authorization": "Bearer " + u.token}
	b64n := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	kdfWith := func(members ...string) string {
		base := map[string]string{"name": js("PBKDF2-SHA256"), "iterations": "600000", "salt": js(b64n(16))}
		var out []string
		for _, m := range members {
			name, value, _ := strings.Cut(m, "=")
			if value == "-" {
				delete(base, name)
				continue
			}
			base[name] = value
		}
		for _, n := range []string{"name", "iterations", "salt", "extra"} {
			if v, ok := base[n]; ok {
				out = append(out, mem(n, v))
			}
		}
		return obj(out...)
	}
	goodKDF, wrapped, hex64 := kdfWith(), js(b64n(60)), js(strings.Repeat("ab", 32))
	// register builds a registration with one member replaced ("name=value")
	// or removed ("name=-"), or one added.
	members := func(base [][2]string, edits ...string) string {
		var out []string
		edited := map[string]string{}
		for _, e := range edits {
			name, value, _ := strings.Cut(e, "=")
			edited[name] = value
		}
		for _, m := range base {
			v, ok := edited[m[0]]
			delete(edited, m[0])
			switch {
			case !ok:
				out = append(out, mem(m[0], m[1]))
			case v != "-":
				out = append(out, mem(m[0], v))
			}
		}
		for name, v := range edited {
			out = append(out, mem(name, v))
		}
		return obj(out...)
	}
	registration := [][2]string{{"accountId", js(id("bad-input-new-account"))}, {"kdf", goodKDF}, {"auth", hex64},
		{"wrappedKey", wrapped}, {"recoveryAuth", hex64}, {"recoveryWrappedKey", wrapped}}
	register := func(edits ...string) string { return members(registration, edits...) }
	login := func(edits ...string) string {
		return members([][2]string{{"accountId", js(u.accountID)}, {"auth", js(u.password.auth)}}, edits...)
	}
	newKeys := obj(mem("kdf", goodKDF), mem("auth", hex64), mem("wrappedKey", wrapped))
	recovery := [][2]string{{"accountId", js(u.accountID)}, {"recoveryAuth", js(u.recoveryAuth)}, {"new", newKeys},
		{"recovery", obj(mem("recoveryAuth", hex64), mem("recoveryWrappedKey", wrapped))}}
	recover := func(edits ...string) string { return members(recovery, edits...) }
	password := func(edits ...string) string {
		return members([][2]string{{"auth", js(u.password.auth)}, {"new", newKeys}}, edits...)
	}
	upgrade := func(edits ...string) string {
		return members([][2]string{{"userId", js(bUser)}, {"storageKey", js(bKey)}, {"backupId", js(strings.Repeat("ab", 16))},
			{"kdf", goodKDF}, {"auth", hex64}, {"wrappedKey", wrapped}, {"recoveryAuth", hex64},
			{"recoveryWrappedKey", wrapped}, {"wrappedLegacyKey", wrapped}}, edits...)
	}
	v2env := func(members ...string) string { return obj(members...) }
	goodEnv := v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(ct16)))
	put := func(version, data string) string { return obj(mem("version", version), mem("data", js(data))) }
	backupPath := "/api/v2/backups/" + fx.backup
	text := "text/plain"

	cases := []badCase{
		// prelogin.
		{name: "v2 prelogin empty", path: "/api/v2/prelogin", body: "", status: 400},
		{name: "v2 prelogin accountId of 63", path: "/api/v2/prelogin", body: obj(mem("accountId", js(u.accountID[:63]))), status: 400},
		{name: "v2 prelogin accountId non-hex", path: "/api/v2/prelogin", body: obj(mem("accountId", js(u.accountID[:63]+"g"))), status: 400},
		{name: "v2 prelogin accountId a number", path: "/api/v2/prelogin", body: obj(mem("accountId", "1")), status: 400},
		{name: "v2 prelogin AccountId", path: "/api/v2/prelogin", body: obj(mem("AccountId", js(u.accountID))), status: 400},
		{name: "v2 prelogin extra member", path: "/api/v2/prelogin", body: obj(mem("accountId", js(u.accountID)), mem("auth", hex64)), status: 400},
		{name: "v2 prelogin as text", path: "/api/v2/prelogin", body: obj(mem("accountId", js(u.accountID))), header: map[string]string{"Content-Type": text}, status: 415},
		{name: "v2 prelogin over its cap", path: "/api/v2/prelogin", body: obj(mem("accountId", js(u.accountID))) + strings.Repeat(" ", 4<<10), status: 413},

		// register.
		{name: "v2 register without kdf", path: "/api/v2/register", body: register("kdf=-"), status: 400},
		{name: "v2 register kdf null", path: "/api/v2/register", body: register("kdf=null"), status: 400},
		{name: "v2 register kdf a string", path: "/api/v2/register", body: register("kdf=" + js("PBKDF2-SHA256")), status: 400},
		{name: "v2 register kdf name in lower case", path: "/api/v2/register", body: register("kdf=" + kdfWith("name="+js("pbkdf2-sha256"))), status: 400},
		{name: "v2 register kdf Argon2", path: "/api/v2/register", body: register("kdf=" + kdfWith("name="+js("Argon2id"))), status: 400},
		{name: "v2 register kdf without name", path: "/api/v2/register", body: register("kdf=" + kdfWith("name=-")), status: 400},
		{name: "v2 register iterations below the floor", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations=599999")), status: 400},
		{name: "v2 register iterations over the ceiling", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations=10000001")), status: 400},
		{name: "v2 register iterations negative", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations=-600000")), status: 400},
		{name: "v2 register iterations fractional", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations=600000.5")), status: 400},
		{name: "v2 register iterations a string", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations="+js("600000"))), status: 400},
		{name: "v2 register iterations missing", path: "/api/v2/register", body: register("kdf=" + kdfWith("iterations=-")), status: 400},
		{name: "v2 register salt of 15 bytes", path: "/api/v2/register", body: register("kdf=" + kdfWith("salt="+js(b64n(15)))), status: 400},
		{name: "v2 register salt of 17 bytes", path: "/api/v2/register", body: register("kdf=" + kdfWith("salt="+js(b64n(17)))), status: 400},
		{name: "v2 register salt unpadded", path: "/api/v2/register", body: register("kdf=" + kdfWith("salt="+js(strings.TrimRight(b64n(16), "=")))), status: 400},
		{name: "v2 register salt URL-safe", path: "/api/v2/register", body: register("kdf=" + kdfWith("salt="+js("____________________8="))), status: 400},
		{name: "v2 register salt missing", path: "/api/v2/register", body: register("kdf=" + kdfWith("salt=-")), status: 400},
		{name: "v2 register kdf extra member", path: "/api/v2/register", body: register("kdf=" + kdfWith("extra=1")), status: 400},
		{name: "v2 register auth of 63", path: "/api/v2/register", body: register("auth=" + js(strings.Repeat("a", 63))), status: 400},
		{name: "v2 register auth non-hex", path: "/api/v2/register", body: register("auth=" + js(strings.Repeat("z", 64))), status: 400},
		{name: "v2 register auth missing", path: "/api/v2/register", body: register("auth=-"), status: 400},
		{name: "v2 register wrappedKey of 59 bytes", path: "/api/v2/register", body: register("wrappedKey=" + js(b64n(59))), status: 400},
		{name: "v2 register wrappedKey of 61 bytes", path: "/api/v2/register", body: register("wrappedKey=" + js(b64n(61))), status: 400},
		{name: "v2 register wrappedKey not base64", path: "/api/v2/register", body: register("wrappedKey=" + js(strings.Repeat("*", 80))), status: 400},
		{name: "v2 register recoveryAuth missing", path: "/api/v2/register", body: register("recoveryAuth=-"), status: 400},
		{name: "v2 register recoveryWrappedKey empty", path: "/api/v2/register", body: register("recoveryWrappedKey=" + js("")), status: 400},
		{name: "v2 register accountId missing", path: "/api/v2/register", body: register("accountId=-"), status: 400},
		{name: "v2 register unknown member", path: "/api/v2/register", body: register("userId=" + js(bUser)), status: 400},
		{name: "v2 register duplicated auth", path: "/api/v2/register", body: register()[:len(register())-1] + "," + mem("auth", hex64) + "}", status: 400},
		{name: "v2 register as a form", path: "/api/v2/register", body: register(), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415},
		{name: "v2 register over its cap", path: "/api/v2/register", body: register() + strings.Repeat(" ", 4<<10), status: 413},

		// login.
		{name: "v2 login auth missing", path: "/api/v2/login", body: login("auth=-"), status: 400},
		{name: "v2 login auth of 65", path: "/api/v2/login", body: login("auth=" + js(u.password.auth+"0")), status: 400},
		{name: "v2 login auth with a NUL", path: "/api/v2/login", body: login("auth=" + js(u.password.auth[:63]+"\x00")), status: 400},
		{name: "v2 login accountId missing", path: "/api/v2/login", body: login("accountId=-"), status: 400},
		{name: "v2 login extra member", path: "/api/v2/login", body: login("kdf=" + goodKDF), status: 400},
		{name: "v2 login array", path: "/api/v2/login", body: "[" + login() + "]", status: 400},

		// recover and recover/key.
		{name: "v2 recover new missing", path: "/api/v2/recover", body: recover("new=-"), status: 400},
		{name: "v2 recover new null", path: "/api/v2/recover", body: recover("new=null"), status: 400},
		{name: "v2 recover recovery missing", path: "/api/v2/recover", body: recover("recovery=-"), status: 400},
		{name: "v2 recover new recoveryAuth of 63", path: "/api/v2/recover", body: recover("recovery=" + obj(mem("recoveryAuth", js(strings.Repeat("a", 63))), mem("recoveryWrappedKey", wrapped))), status: 400},
		{name: "v2 recover new recoveryWrappedKey short", path: "/api/v2/recover", body: recover("recovery=" + obj(mem("recoveryAuth", hex64), mem("recoveryWrappedKey", js(b64n(32))))), status: 400},
		{name: "v2 recover recovery extra member", path: "/api/v2/recover", body: recover("recovery=" + obj(mem("recoveryAuth", hex64), mem("recoveryWrappedKey", wrapped), mem("kdf", goodKDF))), status: 400},
		{name: "v2 recover new salt short", path: "/api/v2/recover", body: recover("new=" + obj(mem("kdf", kdfWith("salt="+js(b64n(8)))), mem("auth", hex64), mem("wrappedKey", wrapped))), status: 400},
		{name: "v2 recover new wrappedKey missing", path: "/api/v2/recover", body: recover("new=" + obj(mem("kdf", goodKDF), mem("auth", hex64))), status: 400},
		{name: "v2 recover recoveryAuth non-hex", path: "/api/v2/recover", body: recover("recoveryAuth=" + js(strings.Repeat("x", 64))), status: 400},
		{name: "v2 recover key recoveryAuth missing", path: "/api/v2/recover/key", body: obj(mem("accountId", js(u.accountID))), status: 400},
		{name: "v2 recover key extra member", path: "/api/v2/recover/key", body: obj(mem("accountId", js(u.accountID)), mem("recoveryAuth", js(u.recoveryAuth)), mem("new", newKeys)), status: 400},

		// upgrade.
		{name: "v2 upgrade backupId of 31", path: "/api/v2/upgrade", body: upgrade("backupId=" + js(strings.Repeat("a", 31))), status: 400},
		{name: "v2 upgrade backupId of 33", path: "/api/v2/upgrade", body: upgrade("backupId=" + js(strings.Repeat("a", 33))), status: 400},
		{name: "v2 upgrade backupId in capitals", path: "/api/v2/upgrade", body: upgrade("backupId=" + js(strings.Repeat("AB", 16))), status: 400},
		{name: "v2 upgrade backupId of 64", path: "/api/v2/upgrade", body: upgrade("backupId=" + js(bKey)), status: 400},
		{name: "v2 upgrade wrappedLegacyKey missing", path: "/api/v2/upgrade", body: upgrade("wrappedLegacyKey=-"), status: 400},
		{name: "v2 upgrade wrappedLegacyKey short", path: "/api/v2/upgrade", body: upgrade("wrappedLegacyKey=" + js(b64n(48))), status: 400},
		{name: "v2 upgrade storageKey of 63", path: "/api/v2/upgrade", body: upgrade("storageKey=" + js(bKey[:63])), status: 400},
		{name: "v2 upgrade userId missing", path: "/api/v2/upgrade", body: upgrade("userId=-"), status: 400},
		{name: "v2 upgrade accountId for userId", path: "/api/v2/upgrade", body: upgrade("userId=-", "accountId="+js(bUser)), status: 400},
		{name: "v2 upgrade iterations below the floor", path: "/api/v2/upgrade", body: upgrade("kdf=" + kdfWith("iterations=100000")), status: 400},

		// password (signed in).
		{name: "v2 password new missing", path: "/api/v2/password", header: auth, body: password("new=-"), status: 400},
		{name: "v2 password auth of 63", path: "/api/v2/password", header: auth, body: password("auth=" + js(u.password.auth[:63])), status: 400},
		{name: "v2 password new auth missing", path: "/api/v2/password", header: auth, body: password("new=" + obj(mem("kdf", goodKDF), mem("wrappedKey", wrapped))), status: 400},
		{name: "v2 password new kdf iterations a float", path: "/api/v2/password", header: auth, body: password("new=" + obj(mem("kdf", kdfWith("iterations=6e5")), mem("auth", hex64), mem("wrappedKey", wrapped))), status: 400},
		{name: "v2 password extra member", path: "/api/v2/password", header: auth, body: password("accountId=" + js(u.accountID)), status: 400},
		{name: "v2 password empty", path: "/api/v2/password", header: auth, body: "", status: 400},

		// Saves.
		{name: "v2 put backupId of 31", method: "PUT", path: "/api/v2/backups/" + fx.backup[:31], header: auth, body: put("2", goodEnv), status: 400},
		{name: "v2 put backupId of 33", method: "PUT", path: "/api/v2/backups/" + fx.backup + "0", header: auth, body: put("2", goodEnv), status: 400},
		{name: "v2 put backupId in capitals", method: "PUT", path: "/api/v2/backups/" + strings.ToUpper(fx.backup), header: auth, body: put("2", goodEnv), status: 400},
		{name: "v2 put backupId non-hex", method: "PUT", path: "/api/v2/backups/" + fx.backup[:31] + "g", header: auth, body: put("2", goodEnv), status: 400},
		{name: "v2 put version zero", method: "PUT", path: backupPath, header: auth, body: put("0", goodEnv), status: 400},
		{name: "v2 put version negative", method: "PUT", path: backupPath, header: auth, body: put("-2", goodEnv), status: 400},
		{name: "v2 put version fractional", method: "PUT", path: backupPath, header: auth, body: put("2.5", goodEnv), status: 400},
		{name: "v2 put version a string", method: "PUT", path: backupPath, header: auth, body: put(js("2"), goodEnv), status: 400},
		{name: "v2 put version overflowing", method: "PUT", path: backupPath, header: auth, body: put("99999999999999999999", goodEnv), status: 400},
		{name: "v2 put version missing", method: "PUT", path: backupPath, header: auth, body: obj(mem("data", js(goodEnv))), status: 400},
		{name: "v2 put data missing", method: "PUT", path: backupPath, header: auth, body: obj(mem("version", "2")), status: 400},
		{name: "v2 put data an object", method: "PUT", path: backupPath, header: auth, body: obj(mem("version", "2"), mem("data", goodEnv)), status: 400},
		{name: "v2 put v1 envelope", method: "PUT", path: backupPath, header: auth, body: put("2", bData), status: 400},
		{name: "v2 put bare base64", method: "PUT", path: backupPath, header: auth, body: put("2", ct16), status: 400},
		{name: "v2 put v as a string", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", js("2")), mem("nonce", js(nonce12)), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put v 3", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "3"), mem("nonce", js(nonce12)), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put v missing", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("nonce", js(nonce12)), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put nonce of 11 bytes", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(b64n(11))), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put nonce missing", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put ct of 15 bytes", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(b64n(15))))), status: 400},
		{name: "v2 put ct URL-safe", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(strings.Repeat("_-", 12))))), status: 400},
		{name: "v2 put z deflate", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(ct16)), mem("z", js("deflate")))), status: 400},
		{name: "v2 put z null", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(ct16)), mem("z", "null"))), status: 400},
		{name: "v2 put envelope extra member", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(ct16)), mem("encrypted", js(ct16)))), status: 400},
		{name: "v2 put envelope duplicated ct", method: "PUT", path: backupPath, header: auth, body: put("2", v2env(mem("v", "2"), mem("nonce", js(nonce12)), mem("ct", js(ct16)), mem("ct", js(ct16)))), status: 400},
		{name: "v2 put envelope trailing garbage", method: "PUT", path: backupPath, header: auth, body: put("2", goodEnv+"x"), status: 400},
		{name: "v2 put extra member", method: "PUT", path: backupPath, header: auth, body: obj(mem("version", "2"), mem("data", js(goodEnv)), mem("backupId", js(fx.backup))), status: 400},
		{name: "v2 put as text", method: "PUT", path: backupPath, header: map[string]string{"Authorization": auth["Authorization"], "Content-Type": text}, body: put("2", goodEnv), status: 415},
		{name: "v2 put data over the cap", method: "PUT", path: backupPath, header: auth, body: put("2", `{"v":2,"nonce":"`+nonce12+`","ct":"`+b64n(int(maxData))+`"}`), status: 413},

		// Reads and deletes.
		{name: "v2 get backupId non-hex", method: "GET", path: "/api/v2/backups/" + strings.Repeat("x", 32), header: auth, status: 400},
		{name: "v2 get version zero", method: "GET", path: backupPath + "?version=0", header: auth, status: 400},
		{name: "v2 get version empty", method: "GET", path: backupPath + "?version=", header: auth, status: 400},
		{name: "v2 get version duplicated", method: "GET", path: backupPath + "?version=1&version=1", header: auth, status: 400},
		{name: "v2 get unknown parameter", method: "GET", path: backupPath + "?userId=" + bUser, header: auth, status: 400},
		{name: "v2 versions with a version", method: "GET", path: backupPath + "/versions?version=1", header: auth, status: 400},
		{name: "v2 versions backupId in capitals", method: "GET", path: "/api/v2/backups/" + strings.ToUpper(fx.backup) + "/versions", header: auth, status: 400},
		{name: "v2 list with a parameter", method: "GET", path: "/api/v2/backups?fields=data", header: auth, status: 400},
		{name: "v2 account with a parameter", method: "GET", path: "/api/v2/account?fields=bytesUsed", header: auth, status: 400},
		{name: "v2 delete backupId of 31", method: "DELETE", path: "/api/v2/backups/" + fx.backup[:31], header: auth, status: 400},
		{name: "v2 delete with a parameter", method: "DELETE", path: backupPath + "?version=1", header: auth, status: 400},
		{name: "v2 delete account auth missing", method: "DELETE", path: "/api/v2/account", header: auth, body: obj(), status: 400},
		{name: "v2 delete account auth of 63", method: "DELETE", path: "/api/v2/account", header: auth, body: obj(mem("auth", js(u.password.auth[:63]))), status: 400},
		{name: "v2 delete account extra member", method: "DELETE", path: "/api/v2/account", header: auth, body: obj(mem("auth", js(u.password.auth)), mem("accountId", js(u.accountID))), status: 400},
		{name: "v2 delete account without a body", method: "DELETE", path: "/api/v2/account", header: auth, status: 415},

		// Wrong methods.
		{name: "v2 GET login", method: "GET", path: "/api/v2/login", status: 405, allow: "POST, OPTIONS"},
		{name: "v2 PUT register", method: "PUT", path: "/api/v2/register", body: register(), status: 405, allow: "POST, OPTIONS"},
		{name: "v2 POST backup", method: "POST", path: backupPath, header: auth, body: put("2", goodEnv), status: 405, allow: "DELETE, GET, HEAD, PUT, OPTIONS"},
		{name: "v2 PATCH backup", method: "PATCH", path: backupPath, header: auth, body: put("2", goodEnv), status: 405, allow: "DELETE, GET, HEAD, PUT, OPTIONS"},
		{name: "v2 PUT versions", method: "PUT", path: backupPath + "/versions", header: auth, status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "v2 POST backups", method: "POST", path: "/api/v2/backups", header: auth, body: put("1", goodEnv), status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "v2 PUT account", method: "PUT", path: "/api/v2/account", header: auth, status: 405, allow: "DELETE, GET, HEAD, OPTIONS"},
		{name: "v2 GET logout", method: "GET", path: "/api/v2/logout", header: auth, status: 405, allow: "POST, OPTIONS"},
	}
	return cases
}
