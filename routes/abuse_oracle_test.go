package routes_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store"
)

// The owner is 127.0.0.1 (the test server's default client); strangers come
// from other loopback addresses.
const strangerIP, strangerIP2 = "127.0.0.2", "127.0.0.3"

// withIfMatch is r with an If-Match header.
func withIfMatch(r servertest.Request, version int) servertest.Request {
	return withHeader(r, "If-Match", fmt.Sprintf(`"%d"`, version))
}

// guessUntilSlowed sends guesses from c until one is refused for failed
// attempts, and returns how many were answered before that (-1: never).
func guessUntilSlowed(t *testing.T, c *servertest.Client, n int, guess func(i int) servertest.Request, answered int) int {
	t.Helper()
	for i := range n {
		r := c.Do(guess(i))
		if r.Status == http.StatusTooManyRequests && strings.Contains(string(r.Body), "failed attempts") {
			return i
		}
		if r.Status != answered {
			t.Fatalf("guess %d: status %d, want %d (body %s)", i, r.Status, answered, r.Body)
		}
	}
	return -1
}

// A save with a stale If-Match is a guess like any other: a wrong key (412
// without ETag) pays from the failed-lookup budget and shows to the owner as
// a failed attempt; the owner's own stale saves (412 with ETag) pay nothing.
func TestStaleIfMatchGuessesSpendTheLookupBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 10 })
	u, k := id("known-name"), id("owner-key")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'a'))
	save(t, s, u, k, envelope(32, 'b'))

	stranger := s.From(strangerIP)
	got := guessUntilSlowed(t, stranger, 14, func(i int) servertest.Request {
		return withIfMatch(saveReq(u, id(fmt.Sprint("guess-", i)), envelope(32, 'g')), 1)
	}, http.StatusPreconditionFailed)
	if got != 10 {
		t.Fatalf("stale-If-Match guesses answered before the budget ran out: %d, want 10", got)
	}
	// Once out of budget even the right key is refused, so a hit cannot be
	// told from a miss.
	r := stranger.Do(withIfMatch(saveReq(u, k, envelope(32, 'g')), 1))
	if msg := expectError(t, r, http.StatusTooManyRequests); !strings.Contains(msg, "failed attempts") || r.Header.Get("ETag") != "" {
		t.Fatalf("right key after the budget: %q, ETag %q", msg, r.Header.Get("ETag"))
	}

	// The owner, with the right key, is never slowed by stale saves.
	for range 14 {
		r := s.Do(withIfMatch(saveReq(u, k, envelope(32, 'o')), 1))
		expectError(t, r, http.StatusPreconditionFailed)
		if r.Header.Get("ETag") != `"2"` {
			t.Fatalf("owner's stale save: ETag %q", r.Header.Get("ETag"))
		}
	}
	waitActivity(t, s, u, k, func(evs []activityEvent) bool {
		return len(evs) > 0 && evs[0].Type == store.EventFailedAttempt && evs[0].Count == 10
	})
}

// A quota refusal tells a new key from an existing one (a new backup is
// judged by the newest versions of the backups created from its address,
// an existing one by its own bytes), so a key that proves nothing pays for
// it.
func TestQuotaRefusalsSpendTheLookupBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst, c.UserQuotaBytes = 4, 8000 })
	u, k := id("known-name"), id("owner-key")
	register(t, s, u)
	save(t, s, u, k, envelope(2000, 'a'))
	stranger := s.From(strangerIP)
	// The stranger's own backup fills most of its address's share (and, as a
	// new backup beside the owner's, pays one token).
	if r := stranger.Do(saveReq(u, id("stranger-own"), envelope(5000, 's'))); r.Status != http.StatusOK {
		t.Fatalf("stranger's own backup: %d %s", r.Status, r.Body)
	}
	got := guessUntilSlowed(t, stranger, 6, func(i int) servertest.Request {
		return saveReq(u, id(fmt.Sprint("guess-", i)), envelope(5000, 'g'))
	}, http.StatusRequestEntityTooLarge)
	if got != 3 {
		t.Fatalf("quota refusals answered before the budget ran out: %d, want 3", got)
	}
	save(t, s, u, k, envelope(2000, 'b')) // the owner saves on
	waitActivity(t, s, u, k, func(evs []activityEvent) bool {
		return len(evs) > 0 && evs[0].Type == store.EventFailedAttempt && evs[0].Count == 3
	})
}

// A save under a fresh key creates a backup at version 1 where the right key
// would have answered the next version: beside an existing backup it is a
// guess too, and pays from the same budget, per address and user, so the
// owner's address keeps its own. A user's first backup pays nothing.
func TestNewBackupsSpendTheLookupBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst, c.MaxBackupsPerUser = 3, 0 })
	u, k := id("known-name"), id("owner-key")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'a'))
	got := guessUntilSlowed(t, s.From(strangerIP), 6, func(i int) servertest.Request {
		return saveReq(u, id(fmt.Sprint("guess-", i)), envelope(32, 'g'))
	}, http.StatusOK)
	if got != 3 {
		t.Fatalf("new backups created before the budget ran out: %d, want 3", got)
	}
	// Another address, and the owner, are not slowed by it.
	expectStatus(t, s.From(strangerIP2).Do(saveReq(u, id("other"), envelope(32, 'h'))), http.StatusOK)
	save(t, s, u, k, envelope(32, 'o'))
	for range 5 {
		save(t, s, u, k, envelope(32, 'p'))
	}
}

// Registering a name that is taken (409) creates no user, so it spends
// nothing of the address's new-users budget.
func TestTakenNamesSpendNoNewUserBudget(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.NewUsersPerIPPerDay = 2 })
	taken := id("taken")
	register(t, s, taken)
	c := s.From(strangerIP)
	regReq := func(u string) servertest.Request {
		return servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}
	}
	for range 5 {
		expectError(t, c.Do(regReq(taken)), http.StatusConflict)
	}
	for i := range 2 {
		expectStatus(t, c.Do(regReq(id(fmt.Sprint("new-", i)))), http.StatusOK)
	}
	r := c.Do(regReq(id("one too many")))
	if msg := expectError(t, r, http.StatusTooManyRequests); !strings.Contains(msg, "new users") {
		t.Fatalf("third new user: %q", msg)
	}
	expectError(t, c.Do(regReq(taken)), http.StatusConflict) // a taken name still says so
}
