package routes_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

func TestV2Register(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "register-alice", "correct horse")
	v2Register(t, s, u)
	// The first session works at once.
	r := s.Do(getReq(u.token, "/api/v2/backups"))
	if r.Status != http.StatusOK || string(r.Body) != `{"backups":[]}` {
		t.Fatalf("list after register: %d %s", r.Status, r.Body)
	}
	// expiresAt is the session lifetime from now.
	r = s.Do(postReq("/api/v2/login", u.loginBody()))
	at, err := time.Parse(time.RFC3339, r.JSON(t)["expiresAt"].(string))
	if err != nil || at.Sub(s.Clock.Now()).Round(time.Second) != time.Hour {
		t.Fatalf("expiresAt %v is not an hour from %v", at, s.Clock.Now())
	}
}

// A taken name is a 409, whether an account or a v1 user holds it, and
// the refusal changes nothing.
func TestV2RegisterNameTaken(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "taken", "pw")
	v2Register(t, s, u)
	before := s.Snapshot()
	again := newV2User(t, "taken", "other")
	msg := expectError(t, s.Do(postReq("/api/v2/register", again.registerBody())), http.StatusConflict)
	if !strings.Contains(msg, "already registered") {
		t.Fatalf("409 says %q", msg)
	}
	s.Unchanged(before)
	// The first password still signs in; the second does not.
	v2Login(t, s, u)
	expectError(t, s.Do(postReq("/api/v2/login", again.loginBody())), http.StatusUnauthorized)

	v1 := newV2User(t, "a-v1-user", "pw")
	register(t, s, v1.accountID)
	before = s.Snapshot()
	expectError(t, s.Do(postReq("/api/v2/register", v1.registerBody())), http.StatusConflict)
	s.Unchanged(before)
	// And the v1 route sees the account's name as taken.
	expectError(t, s.Do(registerReq(u.accountID, nil)), http.StatusConflict)
}

func TestV2RegisterClosed(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Registration = config.RegistrationClosed })
	before := s.Snapshot()
	msg := expectError(t, s.Do(postReq("/api/v2/register", newV2User(t, "closed", "pw").registerBody())), http.StatusForbidden)
	if !strings.Contains(msg, "closed") {
		t.Fatalf("403 says %q", msg)
	}
	s.Unchanged(before)
}

func TestV2RegisterByInvite(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Registration = config.RegistrationInvite })
	mintInvite(t, s, "GOOD-CODE-0002", time.Hour)
	u := newV2User(t, "invited", "pw")
	before := s.Snapshot()
	for name, header := range map[string]map[string]string{
		"no code":      nil,
		"unknown code": withInvite("BAD-CODE"),
	} {
		r := s.Do(withHeaders(postReq("/api/v2/register", u.registerBody()), header))
		if msg := expectError(t, r, http.StatusForbidden); !strings.Contains(msg, "invite") {
			t.Fatalf("%s: 403 says %q", name, msg)
		}
		s.Unchanged(before)
	}
	r := s.Do(withHeaders(postReq("/api/v2/register", u.registerBody()), withInvite("good-code-0002")))
	u.token = sessionOf(t, r)
	// The code is spent.
	other := newV2User(t, "invited-2", "pw")
	expectError(t, s.Do(withHeaders(postReq("/api/v2/register", other.registerBody()), withInvite("GOOD-CODE-0002"))), http.StatusForbidden)
}

// Registrations pay the per-address budget of new users, as v1's do, and a
// taken name spends none of it.
func TestV2RegisterPerAddressBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.NewUsersPerIPPerDay = 2 })
	v2Register(t, s, newV2User(t, "budget-1", "pw"))
	register(t, s, id("budget-v1"))
	taken := newV2User(t, "budget-1", "pw")
	expectError(t, s.Do(postReq("/api/v2/register", taken.registerBody())), http.StatusConflict)
	before := s.Snapshot()
	r := s.Do(postReq("/api/v2/register", newV2User(t, "budget-3", "pw").registerBody()))
	if expectError(t, r, http.StatusTooManyRequests); r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.Unchanged(before)
	// Another address has its own budget.
	v2Register(t, s.From("127.0.0.2"), newV2User(t, "budget-4", "pw"))
}

// The per-hour registration bucket covers v2 registrations too.
func TestV2RegisterPerHourBucket(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.RegisterPerHour = 1 })
	v2Register(t, s, newV2User(t, "hourly-1", "pw"))
	expectStatus(t, s.Do(postReq("/api/v2/register", newV2User(t, "hourly-2", "pw").registerBody())), http.StatusTooManyRequests)
}

func withHeaders(r servertest.Request, h map[string]string) servertest.Request {
	for k, v := range h {
		r = withHeader(r, k, v)
	}
	return r
}
