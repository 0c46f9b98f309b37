package routes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
)

// blobSize is how many bytes a save of envelope(n, _) counts against the
// quota. Base64 grows in steps of 3 bytes: n+3 is always a larger blob.
func blobSize(n int) int64 { return int64(len(envelope(n, 'x'))) }

// The quota counts stored bytes, history included: a backup's own for a save
// to it, the user's total for a save that creates one. A save that would
// pass it is refused whole; one that lands exactly on it is not.
func TestQuota(t *testing.T) {
	blob := blobSize(300)
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes = 3 * blob })
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(300, 'a'))
	save(t, s, u, k, envelope(300, 'b')) // the first stays in history: 2 blobs used

	before := s.Snapshot()
	over := []struct{ name, key, data string }{
		{"same key, history counted", k, envelope(303, 'c')},
		{"new key", id("k2"), envelope(303, 'c')},
	}
	for _, c := range over {
		msg := expectError(t, s.Do(saveReq(u, c.key, c.data)), http.StatusRequestEntityTooLarge)
		if !strings.Contains(msg, "quota") {
			t.Fatalf("%s: 413 message %q does not say quota", c.name, msg)
		}
		s.Unchanged(before)
	}
	expectError(t, get(s, u, id("k2")), http.StatusNotFound)

	// Exactly at the quota is allowed.
	last := envelope(300, 'd')
	save(t, s, u, id("k2"), last)
	if m := get(s, u, id("k2")).JSON(t); m["data"] != last {
		t.Fatal("the save that fills the quota exactly was not stored")
	}
	before = s.Snapshot()
	expectError(t, s.Do(saveReq(u, id("k3"), envelope(16, 'e'))), http.StatusRequestEntityTooLarge)
	s.Unchanged(before)

	// The quota is the user's own: another user saves as much.
	other := id("other")
	register(t, s, other)
	for _, fill := range []byte{'f', 'g', 'h'} {
		save(t, s, other, id("k3"), envelope(300, fill))
	}
}

// The versions a save prunes are gone before the quota is checked, so a
// user at the quota keeps saving as long as the depth keeps it there.
func TestQuotaCountsAfterPruning(t *testing.T) {
	blob := blobSize(200)
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes, c.HistoryDepth = 2*blob, 1 })
	u, k := id("u"), id("k")
	register(t, s, u)
	for i := range 5 {
		save(t, s, u, k, envelope(200, byte('a'+i)))
	}
	before := s.Snapshot()
	expectError(t, s.Do(saveReq(u, k, envelope(203, 'z'))), http.StatusRequestEntityTooLarge)
	s.Unchanged(before)
}

// A refused save spends nothing of the per-backup save limits: it is rolled
// back with everything else.
func TestQuotaRefusalIsNotCountedAsASave(t *testing.T) {
	blob := blobSize(200)
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes, c.SavesPerHour = 2*blob, 2 })
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(200, 'a'))
	before := s.Snapshot()
	for range 3 {
		expectError(t, s.Do(saveReq(u, k, envelope(203, 'b'))), http.StatusRequestEntityTooLarge)
	}
	s.Unchanged(before)
	save(t, s, u, k, envelope(200, 'c')) // the hour's second save
	before = s.Snapshot()
	expectError(t, s.Do(saveReq(u, k, envelope(16, 'd'))), http.StatusTooManyRequests)
	s.Unchanged(before)
}
