package routes_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/config"
)

// recoverBody sets next as the password and a new recovery code, proving
// the current code; u's recovery material becomes the new one.
func (u *v2User) recoverBody(t *testing.T, next v2Password) map[string]any {
	t.Helper()
	used := u.recoveryAuth
	u.newRecoveryCode(t)
	return map[string]any{"accountId": u.accountID, "recoveryAuth": used,
		"new":      map[string]any{"kdf": next.kdf, "auth": next.auth, "wrappedKey": next.wrappedKey},
		"recovery": map[string]any{"recoveryAuth": u.recoveryAuth, "recoveryWrappedKey": u.recoveryWrappedKey}}
}

// recoverKey asks for the recovery-wrapped key and opens it with the code.
func recoverKey(t *testing.T, s doer, u *v2User) []byte {
	t.Helper()
	r := s.Do(postReq("/api/v2/recover/key", map[string]string{"accountId": u.accountID, "recoveryAuth": u.recoveryAuth}))
	if r.Status != http.StatusOK || len(r.JSON(t)) != 1 {
		t.Fatalf("recover/key: %d %s", r.Status, r.Body)
	}
	_, wrapKey := v2crypto.RecoveryKeys(u.recoveryCode)
	return u.unwrap(t, wrapKey, r.JSON(t)["recoveryWrappedKey"].(string), v2crypto.LabelDataKeyRecovery)
}

// The recovery code gets the data key back and sets a new password and a
// new code; the old password and the old code stop at once, sessions end,
// backups stay.
func TestV2Recover(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "recover-alice", "forgotten")
	v2Register(t, s, u)
	id := newBackupID()
	v2Save(t, s, u, id, 1, "kept through recovery")
	if k := recoverKey(t, s, u); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the recovery-wrapped key does not open to the data key")
	}
	oldSession, oldPassword, oldCode := u.token, u.password, u.recoveryAuth
	next := u.passwordMaterial(t, "remembered", 0)
	r := s.Do(postReq("/api/v2/recover", u.recoverBody(t, next)))
	u.token = sessionOf(t, r)
	expectError(t, s.Do(getReq(oldSession, "/api/v2/backups")), http.StatusUnauthorized)
	if got, _ := v2Restore(t, s, u, id, 0); got != "kept through recovery" {
		t.Fatalf("restore after recovery = %q", got)
	}
	expectError(t, s.Do(postReq("/api/v2/login", map[string]any{"accountId": u.accountID, "auth": oldPassword.auth})), http.StatusUnauthorized)
	u.password = next
	v2Login(t, s, u)

	// The used code is refused on both recovery routes; the new one works.
	before := s.Snapshot()
	used := map[string]string{"accountId": u.accountID, "recoveryAuth": oldCode}
	expectError(t, s.Do(postReq("/api/v2/recover/key", used)), http.StatusUnauthorized)
	current, currentCode := u.recoveryAuth, u.recoveryCode
	stale := u.recoverBody(t, u.passwordMaterial(t, "x", 0))
	stale["recoveryAuth"] = oldCode
	expectError(t, s.Do(postReq("/api/v2/recover", stale)), http.StatusUnauthorized)
	s.Unchanged(before)
	u.recoveryAuth, u.recoveryCode = current, currentCode // stale drew a code the server never took
	if k := recoverKey(t, s, u); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the new recovery code does not open the data key")
	}
	again := u.passwordMaterial(t, "again", 0)
	u.token = sessionOf(t, s.Do(postReq("/api/v2/recover", u.recoverBody(t, again))))
	u.password = again
	v2Login(t, s, u)
}

// Failed recoveries answer as a failed login does, pay the same budget and
// show as failed attempts.
func TestV2RecoverFailures(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 3 })
	u := newV2User(t, "recover-bob", "pw")
	v2Register(t, s, u)
	before := s.Snapshot()
	wrong := u.recoverBody(t, u.passwordMaterial(t, "x", 0))
	wrong["recoveryAuth"] = u.password.auth // a key of another kind
	r1 := s.Do(postReq("/api/v2/recover", wrong))
	expectError(t, r1, http.StatusUnauthorized)
	nobody := newV2User(t, "recover-nobody", "pw")
	r2 := s.Do(postReq("/api/v2/recover", nobody.recoverBody(t, nobody.password)))
	expectError(t, r2, http.StatusUnauthorized)
	r3 := s.Do(postReq("/api/v2/login", nobody.loginBody()))
	if !bytes.Equal(r1.Body, r2.Body) || !bytes.Equal(r1.Body, r3.Body) {
		t.Fatalf("answers differ: %s / %s / %s", r1.Body, r2.Body, r3.Body)
	}
	for range 2 {
		expectError(t, s.Do(postReq("/api/v2/recover/key", map[string]string{"accountId": u.accountID, "recoveryAuth": u.password.auth})), http.StatusUnauthorized)
	}
	expectError(t, s.Do(postReq("/api/v2/recover/key", map[string]string{"accountId": u.accountID, "recoveryAuth": u.password.auth})), http.StatusTooManyRequests)
	s.Unchanged(before)
	v2Login(t, s.From("127.0.0.2"), u)
	failedAttempts(t, s.From("127.0.0.2"), u.token, 3)
}
