package routes_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/servertest"
)

func registerReq(user string, header map[string]string) servertest.Request {
	return servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": user}, Header: header}
}

func withInvite(code string) map[string]string { return map[string]string{"X-Invite-Code": code} }

// mintInvite stores a code as the invite command does.
func mintInvite(t *testing.T, s *servertest.Server, code string, validFor time.Duration) {
	t.Helper()
	now := s.Clock.Now()
	_, err := s.DB().NewQuery(`INSERT INTO invites (code, created, expires) VALUES ({:code}, {:created}, {:expires})`).
		Bind(dbx.Params{"code": routes.InviteHash(code), "created": now.UnixMilli(), "expires": now.Add(validFor).UnixMilli()}).
		Execute()
	if err != nil {
		t.Fatal(err)
	}
}

// restartOn stops s and starts a server on its database (a copy of its data
// directory for SQLite, the same schema for PostgreSQL) with s's settings,
// edited.
func restartOn(t *testing.T, s *servertest.Server, edit func(*config.Config)) *servertest.Server {
	t.Helper()
	s.Stop()
	cfg := s.Config
	return servertest.New(t, servertest.WithDataDir(s.App.DataDir()), servertest.WithConfig(func(c *config.Config) {
		*c = cfg
		edit(c)
	}))
}

// Closed registration refuses every new user, and existing users go on.
func TestRegistrationClosed(t *testing.T) {
	if got := config.Default().Registration; got != config.RegistrationOpen {
		t.Fatalf("default registration = %q, want open", got)
	}
	s := newServer(t)
	alice, k := id("alice"), id("alice-key")
	register(t, s, alice)
	save(t, s, alice, k, envelope(40, 'a'))

	s = restartOn(t, s, func(c *config.Config) { c.Registration = config.RegistrationClosed })
	mintInvite(t, s, "AAAA-BBBB", time.Hour) // an invite opens nothing here
	before := s.Snapshot()
	for name, r := range map[string]servertest.Request{
		"new user":                      registerReq(id("bob"), nil),
		"new user, invite":              registerReq(id("bob"), withInvite("AAAA-BBBB")),
		"existing user (no 409 oracle)": registerReq(alice, nil),
	} {
		if msg := expectError(t, s.Do(r), http.StatusForbidden); !strings.Contains(msg, "closed") {
			t.Fatalf("%s: message %q does not say registration is closed", name, msg)
		}
		s.Unchanged(before)
	}
	data := envelope(40, 'b')
	save(t, s, alice, k, data)
	if m := get(s, alice, k).JSON(t); m["data"] != data {
		t.Fatal("an existing user cannot use a closed server")
	}
}

func TestRegistrationByInvite(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Registration = config.RegistrationInvite })
	mintInvite(t, s, "GOOD-CODE-0001", 24*time.Hour)
	mintInvite(t, s, "OLD-CODE", time.Hour)
	mintInvite(t, s, "OTHER-CODE", 24*time.Hour)
	s.Clock.Advance(2 * time.Hour)

	before := s.Snapshot()
	for name, header := range map[string]map[string]string{
		"no code":       nil,
		"empty code":    withInvite(""),
		"unknown code":  withInvite("NOT-A-CODE"),
		"expired code":  withInvite("OLD-CODE"),
		"a code's hash": withInvite(routes.InviteHash("GOOD-CODE-0001")),
	} {
		if msg := expectError(t, s.Do(registerReq(id("bob"), header)), http.StatusForbidden); !strings.Contains(msg, "invite") {
			t.Fatalf("%s: message %q does not mention the invite", name, msg)
		}
		s.Unchanged(before)
	}

	// Case, dashes and spaces do not count.
	if r := s.Do(registerReq(id("bob"), withInvite("good code-0001"))); r.Status != http.StatusOK {
		t.Fatalf("register with a valid code: %d %s", r.Status, r.Body)
	}
	save(t, s, id("bob"), id("bob-key"), envelope(40, 'b'))

	before = s.Snapshot()
	expectError(t, s.Do(registerReq(id("carol"), withInvite("GOOD-CODE-0001"))), http.StatusForbidden)
	s.Unchanged(before)
	if r := s.Do(registerReq(id("carol"), withInvite("OTHER-CODE"))); r.Status != http.StatusOK {
		t.Fatalf("register with the other code: %d %s", r.Status, r.Body)
	}
}

// A registration that fails because the user exists leaves its code unused.
func TestInviteNotSpentByConflict(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Registration = config.RegistrationInvite })
	mintInvite(t, s, "FIRST", time.Hour)
	mintInvite(t, s, "SECOND", time.Hour)
	if r := s.Do(registerReq(id("alice"), withInvite("FIRST"))); r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	before := s.Snapshot()
	expectError(t, s.Do(registerReq(id("alice"), withInvite("SECOND"))), http.StatusConflict)
	s.Unchanged(before) // SECOND is still stored
	if r := s.Do(registerReq(id("bob"), withInvite("SECOND"))); r.Status != http.StatusOK {
		t.Fatalf("the code a conflict left unused: %d %s", r.Status, r.Body)
	}
}

// Several users racing for one code: exactly one gets in.
func TestInviteRace(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Registration = config.RegistrationInvite })
	for round := range 3 {
		code := "RACE-" + strconv.Itoa(round)
		mintInvite(t, s, code, time.Hour)
		statuses := make([]int, 4)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				<-start
				user := id("racer-" + strconv.Itoa(round) + "-" + strconv.Itoa(i))
				statuses[i] = s.Do(registerReq(user, withInvite(code))).Status
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				won++
			case http.StatusForbidden:
			default:
				t.Fatalf("round %d: status %d", round, st)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d registrations used one code (%v)", round, won, statuses)
		}
	}
	var users int
	if err := s.DB().NewQuery(`SELECT COUNT(*) FROM users`).Row(&users); err != nil || users != 3 {
		t.Fatalf("%d users after 3 rounds (%v), want 3", users, err)
	}
}

// The cap on new users per address and day is kept in the database: it
// holds across a restart and lifts when the day has passed.
func TestNewUsersPerAddressPerDay(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.NewUsersPerIPPerDay = 2
		c.TrustedProxyHeader = "Fly-Client-IP"
	})
	from := func(addr string) map[string]string { return map[string]string{"Fly-Client-IP": addr} }
	a, b := from("203.0.113.7"), from("198.51.100.9")
	for i := range 2 {
		if r := s.Do(registerReq(id("a"+strconv.Itoa(i)), a)); r.Status != http.StatusOK {
			t.Fatalf("registration %d: %d %s", i, r.Status, r.Body)
		}
		s.Clock.Advance(time.Hour)
	}
	before := s.Snapshot()
	r := s.Do(registerReq(id("a2"), a))
	if msg := expectError(t, r, http.StatusTooManyRequests); !strings.Contains(msg, "new users from this address") {
		t.Fatalf("429 message %q does not say what was limited", msg)
	}
	// The first registration leaves the window 24 h after it was made.
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(22*3600) {
		t.Fatalf("Retry-After = %q, want %d", got, 22*3600)
	}
	s.Unchanged(before)
	if r := s.Do(registerReq(id("b0"), b)); r.Status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.Status, r.Body)
	}

	s = restartOn(t, s, func(*config.Config) {})
	before = s.Snapshot()
	r = s.Do(registerReq(id("a2"), a))
	expectError(t, r, http.StatusTooManyRequests)
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 22*3600 || secs > 24*3600 {
		t.Fatalf("Retry-After after a restart = %q", r.Header.Get("Retry-After"))
	}
	s.Unchanged(before)

	s.Clock.Advance(24 * time.Hour)
	if r := s.Do(registerReq(id("a2"), a)); r.Status != http.StatusOK {
		t.Fatalf("a day later: %d %s", r.Status, r.Body)
	}
}

// Invited users are not counted against the per-address cap: the codes
// already bound who gets in, and a class behind one address may share them.
func TestInvitesAreNotCappedPerAddress(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.Registration = config.RegistrationInvite
		c.NewUsersPerIPPerDay = 1
	})
	for i := range 3 {
		code := "CLASS-" + strconv.Itoa(i)
		mintInvite(t, s, code, time.Hour)
		if r := s.Do(registerReq(id(code), withInvite(code))); r.Status != http.StatusOK {
			t.Fatalf("invited registration %d: %d %s", i, r.Status, r.Body)
		}
	}
}
