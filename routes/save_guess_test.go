package routes_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
)

// Saves that a guessed key gets refused for (the user is full) spend the same failed-lookup budget as failed restores,
// so a save cannot serve as a faster password oracle; the owner, from
// another address, keeps saving.
func TestSaveGuessesSpendTheLookupBudget(t *testing.T) {
	s := newServer(t, behindProxy, func(c *config.Config) {
		c.MaxBackupsPerUser, c.FailedLookupBurst = 1, 3
	})
	const guesser, ownerIP = "203.0.113.9", "198.51.100.1"
	u, k := id("known-name"), id("owner-key")
	register(t, s, u)
	expectStatus(t, s.Do(from(ownerIP, saveReq(u, k, envelope(32, 'o')))), http.StatusOK)

	refused := 0
	for i := range 10 {
		r := s.Do(from(guesser, saveReq(u, id(fmt.Sprint("guess-", i)), envelope(32, 'g'))))
		msg := expectError(t, r, http.StatusTooManyRequests)
		if strings.Contains(msg, "failed attempts") {
			refused = i
			break
		}
	}
	if refused != 3 {
		t.Fatalf("the guesser was slowed after %d refused saves, want 3", refused)
	}
	expectStatus(t, s.Do(from(ownerIP, saveReq(u, k, envelope(32, 'p')))), http.StatusOK)
}
