package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// representativeV2Run drives protocol v2 as clients, careless clients and
// attackers would: an account's whole life (register, saves, restores,
// lists, logins right and wrong, a password change, a recovery, logout,
// deletes), an upgrade from v1 with its resumption and refusals, and bad
// input carrying the secrets. It returns what must never be found: raw
// account ids, authentication keys, session tokens, and the upgraded v1
// user's ids.
func representativeV2Run(t *testing.T, p *process) []secret {
	a := newAPI(p.URL)
	a.secret = []byte(sweepSecret)
	m := newV2Material("leak-sweep-v2")
	changed, recovered := newV2Material("leak-sweep-v2-changed"), newV2Material("leak-sweep-v2-recovered")
	secrets := []secret{{"a v2 accountId", m.AccountID}, {"an auth key", m.Auth}, {"a recovery auth key", m.RecoveryAuth},
		{"a changed auth key", changed.Auth}, {"a new recovery auth key", recovered.RecoveryAuth}, {"a recovered auth key", recovered.Auth}}
	want := func(what string, code int) func(int, error) {
		return func(st int, err error) {
			t.Helper()
			if err != nil || st != code {
				t.Fatalf("%s: %d %v, want %d", what, st, err, code)
			}
		}
	}
	token := func(what string) func(int, string, error) string {
		return func(st int, tok string, err error) string {
			t.Helper()
			want(what, http.StatusOK)(st, err)
			secrets = append(secrets, secret{"a session token", tok})
			return tok
		}
	}
	status := func(st int, _ []byte, err error) (int, error) { return st, err }

	// An account's life.
	tok := token("register")(a.v2Register(m))
	want("register again", http.StatusConflict)(status(a.v2("POST", "/api/v2/register", "", map[string]any{"accountId": strings.ToUpper(m.AccountID),
		"kdf": m.KDF, "auth": m.Auth, "wrappedKey": m.WrappedKey, "recoveryAuth": m.RecoveryAuth, "recoveryWrappedKey": m.RecoveryWrappedKey})))
	backup := backupID("leak-sweep-v2")
	for v := int64(1); v <= 3; v++ {
		want("put", http.StatusOK)(a.v2Put(tok, backup, v, v2Data("leak-sweep", 500*int(v))))
	}
	want("stale put", http.StatusPreconditionFailed)(a.v2Put(tok, backup, 2, v2Data("stale", 100)))
	for _, path := range []string{"/api/v2/backups/" + backup, "/api/v2/backups/" + backup + "?version=1",
		"/api/v2/backups/" + backup + "/versions", "/api/v2/backups", "/api/v2/account"} {
		want("GET "+path, http.StatusOK)(status(a.v2("GET", path, tok, nil)))
	}
	want("prelogin", http.StatusOK)(status(a.v2("POST", "/api/v2/prelogin", "", map[string]any{"accountId": m.AccountID})))
	want("prelogin of nobody", http.StatusOK)(status(a.v2("POST", "/api/v2/prelogin", "", map[string]any{"accountId": hexID("leak-nobody")})))
	want("wrong login", http.StatusUnauthorized)(status(a.v2("POST", "/api/v2/login", "", map[string]any{"accountId": m.AccountID, "auth": m.RecoveryAuth})))
	token("login")(a.v2Login(m.AccountID, m.Auth))
	want("recovery key", http.StatusOK)(status(a.v2("POST", "/api/v2/recover/key", "", map[string]any{"accountId": m.AccountID, "recoveryAuth": m.RecoveryAuth})))
	changedTok := token("password")(a.v2TokenWith("/api/v2/password", tok, map[string]any{"auth": m.Auth,
		"new": map[string]any{"kdf": changed.KDF, "auth": changed.Auth, "wrappedKey": changed.WrappedKey}}))
	want("a session the password change ended", http.StatusUnauthorized)(status(a.v2("GET", "/api/v2/account", tok, nil)))
	want("the password change's session", http.StatusOK)(status(a.v2("GET", "/api/v2/account", changedTok, nil)))
	tok = token("recover")(a.v2TokenWith("/api/v2/recover", "", map[string]any{"accountId": m.AccountID, "recoveryAuth": m.RecoveryAuth,
		"new":      map[string]any{"kdf": recovered.KDF, "auth": recovered.Auth, "wrappedKey": recovered.WrappedKey},
		"recovery": map[string]any{"recoveryAuth": recovered.RecoveryAuth, "recoveryWrappedKey": recovered.RecoveryWrappedKey}}))
	want("a session the recovery ended", http.StatusUnauthorized)(status(a.v2("GET", "/api/v2/account", changedTok, nil)))
	want("logout", http.StatusOK)(status(a.v2("POST", "/api/v2/logout", tok, nil)))
	want("after logout", http.StatusUnauthorized)(status(a.v2("GET", "/api/v2/backups", tok, nil)))
	tok = token("login after recovery")(a.v2Login(m.AccountID, recovered.Auth))

	// Careless clients and attackers: the secrets where they do not belong.
	for _, target := range []string{"/api/v2/backups?token=" + tok, "/api/v2/backups/" + tok, "/api/v2/" + m.AccountID,
		"/api/v2/backups/" + strings.ToUpper(backup) + "?auth=" + m.Auth, "/api/v2/login?accountId=" + m.AccountID,
		"/api/v2/backups/" + backup + "?version=" + m.Auth} {
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + tok}, {"Authorization", tok},
			{"Authorization", "Bearer " + strings.ToUpper(tok)}, {"X-Request-Id", tok}, {"Referer", "https://app.example/?t=" + tok}} {
			st, _, _, err := a.call("GET", target, nil, h...)
			if err != nil || st >= 500 {
				t.Fatalf("GET %s: %d %v", target, st, err)
			}
		}
	}
	for _, body := range []string{
		`{"accountId":"` + m.AccountID + `","auth":"` + strings.ToUpper(m.Auth) + `x"}`,
		`{"accountId":"` + strings.ToUpper(m.AccountID) + `","auth":"` + m.Auth + `","extra":1}`,
		`{"accountId":"` + m.AccountID + `","accountId":"` + m.AccountID + `"}`,
		`{"auth":"` + recovered.Auth + `","new":{"kdf":{"name":"x"},"auth":"` + recovered.Auth + `"}}`,
		`{"accountId":"` + m.AccountID + `"` + strings.Repeat("[", 20000),
	} {
		for _, path := range []string{"/api/v2/login", "/api/v2/register", "/api/v2/password", "/api/v2/recover", "/api/v2/upgrade"} {
			st, _, _, err := a.call("POST", path, []byte(body), "Authorization", "Bearer "+tok)
			if err != nil || st >= 500 || st == http.StatusOK {
				t.Fatalf("POST %s with bad input: %d %v", path, st, err)
			}
		}
	}

	// An upgrade from v1, resumed, and refused to others.
	user, key := hexID("leak-sweep-upgraded-user"), hexID("leak-sweep-upgraded-key")
	up := newV2Material("leak-sweep-upgrade")
	secrets = append(secrets, secret{"an upgraded userId", user}, secret{"an upgraded storageKey", key},
		secret{"an upgrade's auth key", up.Auth}, secret{"an upgrade's recovery auth key", up.RecoveryAuth})
	want("v1 register", http.StatusOK)(a.register(user))
	for seq := range 2 {
		st, _, err := a.save(user, key, sizedPayload(7, seq, 900), "")
		want("v1 save", http.StatusOK)(st, err)
	}
	want("upgrade with a wrong key", http.StatusNotFound)(status(a.v2("POST", "/api/v2/upgrade", "", upgradeBody(up, user, hexID("leak-wrong"), backupID("up")))))
	upTok := token("upgrade")(a.v2Upgrade(up, user, key, backupID("up")))
	token("resumed upgrade")(a.v2Upgrade(up, user, key, backupID("up")))
	want("upgrade by another", http.StatusConflict)(status(a.v2("POST", "/api/v2/upgrade", "", upgradeBody(m, user, key, backupID("up")))))
	st, b, err := a.v2Get(upTok, backupID("up"), 1)
	if err != nil || st != http.StatusOK || b.WrappedLegacyKey != up.WrappedLegacyKey {
		t.Fatalf("the upgraded backup: %d %v %+v", st, err, b.Version)
	}
	st, _, err = a.save(user, hexID("leak-sweep-new-v1"), sizedPayload(7, 3, 900), "")
	want("a new v1 backup beside the account", http.StatusConflict)(st, err)

	// Leaving.
	want("delete a backup", http.StatusOK)(status(a.v2("DELETE", "/api/v2/backups/"+backup, tok, nil)))
	want("delete the account with a wrong key", http.StatusUnauthorized)(status(a.v2("DELETE", "/api/v2/account", tok, map[string]any{"auth": m.Auth})))
	want("delete the account", http.StatusOK)(status(a.v2("DELETE", "/api/v2/account", tok, map[string]any{"auth": recovered.Auth})))
	want("login after the delete", http.StatusUnauthorized)(status(a.v2("POST", "/api/v2/login", "", map[string]any{"accountId": m.AccountID, "auth": recovered.Auth})))
	return secrets
}

// v2TokenWith is v2Token with a session.
func (a *api) v2TokenWith(path, session string, body any) (int, string, error) {
	if session == "" {
		return a.v2Token(path, body)
	}
	st, b, err := a.v2("POST", path, session, body)
	if err != nil || st != http.StatusOK {
		return st, "", err
	}
	return st, tokenOf(b), nil
}

func upgradeBody(m v2Material, userID, storageKey, backup string) map[string]any {
	return map[string]any{"userId": userID, "storageKey": storageKey, "backupId": backup,
		"kdf": m.KDF, "auth": m.Auth, "wrappedKey": m.WrappedKey, "recoveryAuth": m.RecoveryAuth,
		"recoveryWrappedKey": m.RecoveryWrappedKey, "wrappedLegacyKey": m.WrappedLegacyKey}
}
