package routes_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/config"
)

// A login answers a session and the wrapped data key, which the password's
// wrapping key opens.
func TestV2Login(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "login-alice", "pw")
	v2Register(t, s, u)
	first := u.token
	m := v2Login(t, s, u)
	if _, ok := m["kdfUpgrade"]; ok || len(m) != 3 {
		t.Fatalf("login answered %v", m)
	}
	if k := u.unwrap(t, u.password.wrapKey, m["wrappedKey"].(string), v2crypto.LabelDataKey); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the wrapped key does not open to the data key")
	}
	if u.token == first {
		t.Fatal("a login reused the registration's session token")
	}
	// Both sessions live.
	for _, token := range []string{first, u.token} {
		expectStatus(t, s.Do(getReq(token, "/api/v2/backups")), http.StatusOK)
	}
}

// A wrong key and an unknown account get the same answer, byte for byte.
func TestV2LoginFailures(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "login-bob", "pw")
	v2Register(t, s, u)
	before := s.Snapshot()
	wrong := u.loginBody()
	wrong["auth"] = u.passwordMaterial(t, "not pw", 0).auth
	r1 := s.Do(postReq("/api/v2/login", wrong))
	msg := expectError(t, r1, http.StatusUnauthorized)
	if !strings.Contains(strings.ToLower(msg), "wrong username or password") {
		t.Fatalf("401 says %q", msg)
	}
	r2 := s.Do(postReq("/api/v2/login", newV2User(t, "login-nobody", "pw").loginBody()))
	expectError(t, r2, http.StatusUnauthorized)
	if !bytes.Equal(r1.Body, r2.Body) {
		t.Fatalf("a wrong key answers %s, an unknown account %s", r1.Body, r2.Body)
	}
	s.Unchanged(before)
}

// Failed logins pay the per-(address, account) budget, checked before the
// key: once spent, even the right key waits. The owner sees them.
func TestV2LoginFailedBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 3 })
	u := newV2User(t, "login-carol", "pw")
	v2Register(t, s, u)
	wrong := u.loginBody()
	wrong["auth"] = strings.Repeat("0", 64)
	for range 3 {
		expectError(t, s.Do(postReq("/api/v2/login", wrong)), http.StatusUnauthorized)
	}
	r := s.Do(postReq("/api/v2/login", u.loginBody()))
	expectError(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// From another address the owner signs in and sees the attempts.
	other := s.From("127.0.0.2")
	v2Login(t, other, u)
	failedAttempts(t, other, u.token, 3)
}

// failedAttempts waits for the account's activity to show want failed
// attempts (events are written in batches) and fails if it shows another
// number.
func failedAttempts(t *testing.T, s doer, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.Do(getReq(token, "/api/v2/account"))
		if r.Status != http.StatusOK {
			t.Fatalf("account: %d %s", r.Status, r.Body)
		}
		n := 0
		for _, ev := range r.JSON(t)["events"].([]any) {
			if e := ev.(map[string]any); e["type"] == "failed_attempt" {
				n += int(e["count"].(float64))
			}
		}
		if n > want || n < want && time.Now().After(deadline) {
			t.Fatalf("the account shows %d failed attempts, want %d", n, want)
		}
		if n == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An account below the server's iterations is asked to raise them, and a
// password change to the same password at the new count ends the request.
func TestV2LoginKDFUpgrade(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "login-dave", "pw")
	v2Register(t, s, u)
	s = restartOn(t, s, func(c *config.Config) { c.KDFIterations = 800_000 })
	m := v2Login(t, s, u)
	up, ok := m["kdfUpgrade"].(map[string]any)
	if !ok || len(up) != 1 || up["iterations"] != float64(800_000) {
		t.Fatalf("login answered %v, want kdfUpgrade to 800000", m)
	}
	raised := u.passwordMaterial(t, "pw", 0)
	raised.kdf["iterations"] = 800_000
	r := s.Do(bearer(u.token, postReq("/api/v2/password", map[string]any{"auth": u.password.auth,
		"new": map[string]any{"kdf": raised.kdf, "auth": raised.auth, "wrappedKey": raised.wrappedKey}})))
	u.token = sessionOf(t, r)
	u.password = raised
	if m := v2Login(t, s, u); m["kdfUpgrade"] != nil {
		t.Fatalf("after the raise login still answers %v", m)
	}
	if got := prelogin(t, s, u.accountID)["iterations"]; got != float64(800_000) {
		t.Fatalf("prelogin iterations = %v", got)
	}
}
