package routes_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/config"
)

func passwordBody(current string, next v2Password) map[string]any {
	return map[string]any{"auth": current,
		"new": map[string]any{"kdf": next.kdf, "auth": next.auth, "wrappedKey": next.wrappedKey}}
}

// A password change re-wraps the data key: the old password stops at once,
// every other session ends, and the backups stay as they were.
func TestV2PasswordChange(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "password-alice", "old pw")
	v2Register(t, s, u)
	id := newBackupID()
	v2Save(t, s, u, id, 1, "before the change")
	other := u.token
	v2Login(t, s, u)
	old := u.password
	next := u.passwordMaterial(t, "new pw", 0)

	r := s.Do(bearer(u.token, postReq("/api/v2/password", passwordBody(old.auth, next))))
	if r.Status != http.StatusOK || len(r.JSON(t)) != 2 {
		t.Fatalf("password: %d %s", r.Status, r.Body)
	}
	fresh := sessionOf(t, r)
	for _, token := range []string{u.token, other} {
		expectError(t, s.Do(getReq(token, "/api/v2/backups")), http.StatusUnauthorized)
	}
	u.token = fresh
	if got, _ := v2Restore(t, s, u, id, 0); got != "before the change" {
		t.Fatalf("restore after the change = %q", got)
	}
	expectError(t, s.Do(postReq("/api/v2/login", u.loginBody())), http.StatusUnauthorized)
	u.password = next
	m := v2Login(t, s, u)
	if k := u.unwrap(t, next.wrapKey, m["wrappedKey"].(string), v2crypto.LabelDataKey); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the new wrapped key does not open to the data key")
	}
	if got := prelogin(t, s, u.accountID)["salt"]; got != next.kdf["salt"] {
		t.Fatalf("prelogin salt %v is not the new one", got)
	}
}

// A wrong current key changes nothing and counts as a failed attempt.
func TestV2PasswordWrongCurrent(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 2 })
	u := newV2User(t, "password-bob", "pw")
	v2Register(t, s, u)
	next := u.passwordMaterial(t, "new pw", 0)
	before := s.Snapshot()
	for range 2 {
		msg := expectError(t, s.Do(bearer(u.token, postReq("/api/v2/password", passwordBody(next.auth, next)))), http.StatusUnauthorized)
		if !strings.Contains(strings.ToLower(msg), "wrong") {
			t.Fatalf("401 says %q", msg)
		}
	}
	// The budget is spent: the right key waits too.
	expectError(t, s.Do(bearer(u.token, postReq("/api/v2/password", passwordBody(u.password.auth, next)))), http.StatusTooManyRequests)
	s.Unchanged(before)
	expectStatus(t, s.Do(getReq(u.token, "/api/v2/backups")), http.StatusOK)
	failedAttempts(t, s, u.token, 2)
	v2Login(t, s.From("127.0.0.2"), u)
}
