package routes_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// A stranger at another address who knows the owner's username, and
// nothing else, tries every route: it can neither create, fill, probe,
// list nor delete anything under the account, and the stored data is as
// the owner left it.
func TestV2StrangerCannotTouchTheAccount(t *testing.T) {
	s := newServer(t)
	owner := newV2User(t, "known-name", "owner's pw")
	v2Register(t, s, owner)
	backup := newBackupID()
	v2Save(t, s, owner, backup, 1, "the owner's")
	stranger := s.From("127.0.0.2")
	guess := newV2User(t, "known-name", "a guess")
	before := s.Snapshot()

	forged := strings.Repeat("A", 43) // a token's shape
	for _, c := range []struct {
		req    servertest.Request
		status int
	}{
		{postReq("/api/v2/register", guess.registerBody()), http.StatusConflict},
		{postReq("/api/v2/login", guess.loginBody()), http.StatusUnauthorized},
		{postReq("/api/v2/recover/key", map[string]string{"accountId": guess.accountID, "recoveryAuth": guess.recoveryAuth}), http.StatusUnauthorized},
		{postReq("/api/v2/recover", guess.recoverBody(t, guess.password)), http.StatusUnauthorized},
		{postReq("/api/v2/upgrade", guess.upgradeBody(t, newV1Backup(t, "known-name", "a guess"), newBackupID())), http.StatusNotFound},
		// v1 routes cannot reach the account either.
		{registerReq(owner.accountID, nil), http.StatusConflict},
		{saveReq(owner.accountID, id("stranger-key"), envelope(32, 's')), http.StatusConflict},
		{servertest.Request{Method: "GET", Path: getPath(owner.accountID, id("stranger-key"))}, http.StatusNotFound},
		{deleteReq(owner.accountID, id("stranger-key")), http.StatusNotFound},
	} {
		expectError(t, stranger.Do(c.req), c.status)
	}
	for _, token := range []string{"", forged} {
		for _, req := range sessionRoutes(guess, backup) {
			if token != "" {
				req = bearer(token, req)
			}
			expectError(t, stranger.Do(req), http.StatusUnauthorized)
		}
	}
	s.Unchanged(before)

	// A session of the stranger's own account reaches only that account,
	// even with the owner's backupId.
	own := newV2User(t, "the stranger", "pw")
	v2Register(t, stranger, own)
	expectError(t, stranger.Do(getReq(own.token, "/api/v2/backups/"+backup)), http.StatusNotFound)
	v2Save(t, stranger, own, backup, 1, "the stranger's")
	if got, _ := v2Restore(t, s, owner, backup, 0); got != "the owner's" {
		t.Fatalf("the owner's backup restores %q", got)
	}
}

// The prelogin answer of a registered account and of an unknown one look
// alike: same members, same name and iterations, a 16-byte salt each, the
// same length and headers.
func TestV2StrangerCannotTellAccountsApart(t *testing.T) {
	s := newServer(t)
	owner := newV2User(t, "real-account", "pw")
	v2Register(t, s, owner)
	stranger := s.From("127.0.0.2")
	real := stranger.Do(postReq("/api/v2/prelogin", map[string]string{"accountId": owner.accountID}))
	fake := stranger.Do(postReq("/api/v2/prelogin", map[string]string{"accountId": newV2User(t, "fake-account", "pw").accountID}))
	if real.Status != http.StatusOK || fake.Status != http.StatusOK || len(real.Body) != len(fake.Body) {
		t.Fatalf("real %d %s, fake %d %s", real.Status, real.Body, fake.Status, fake.Body)
	}
	rk, fk := real.JSON(t)["kdf"].(map[string]any), fake.JSON(t)["kdf"].(map[string]any)
	if rk["name"] != fk["name"] || rk["iterations"] != fk["iterations"] || len(rk["salt"].(string)) != len(fk["salt"].(string)) {
		t.Fatalf("real %v, fake %v", rk, fk)
	}
	// The member order is the same too: the bodies differ only in the salt.
	if strings.Replace(string(real.Body), rk["salt"].(string), "", 1) != strings.Replace(string(fake.Body), fk["salt"].(string), "", 1) {
		t.Fatalf("bodies differ beyond the salt: %s / %s", real.Body, fake.Body)
	}
	headers := func(h http.Header) []string {
		names := slices.Sorted(maps.Keys(h))
		return slices.DeleteFunc(names, func(n string) bool { return n == "Date" || n == "X-Request-Id" })
	}
	if !slices.Equal(headers(real.Header), headers(fake.Header)) {
		t.Fatalf("headers differ: %v / %v", headers(real.Header), headers(fake.Header))
	}
}

// A stranger who spends the failed-attempt budget on the owner's account
// from its address is stopped there; the owner, at another address, signs
// in at once.
func TestV2StrangerCannotLockTheOwnerOut(t *testing.T) {
	s := servertest.New(t) // every limit at its default
	owner := newV2User(t, "locked-name", "pw")
	v2Register(t, s, owner)
	stranger := s.From("127.0.0.2")
	wrong := owner.loginBody()
	wrong["auth"] = strings.Repeat("ab", 32)
	refused := 0
	for range 3 * s.Config.FailedLookupBurst {
		s.Clock.Advance(s.Config.IPRefill) // the address's own bucket never stops it
		r := stranger.Do(postReq("/api/v2/login", wrong))
		if r.Status == http.StatusTooManyRequests {
			refused++
			continue
		}
		expectError(t, r, http.StatusUnauthorized)
	}
	if refused == 0 {
		t.Fatal("the stranger was never stopped")
	}
	// Even the right key from the stranger's address waits now.
	expectError(t, stranger.Do(postReq("/api/v2/login", owner.loginBody())), http.StatusTooManyRequests)
	v2Login(t, s, owner)
	expectStatus(t, s.Do(getReq(owner.token, "/api/v2/backups")), http.StatusOK)
}
