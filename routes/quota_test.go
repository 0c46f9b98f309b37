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
// to it, where the oldest versions give way; for a save that creates one, the
// newest versions of the user's backups created from the same address. A
// save that would pass it is refused whole; one that lands exactly on it is
// not.
func TestQuota(t *testing.T) {
	blob := blobSize(300)
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes = 2 * blob })
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(300, 'a'))

	before := s.Snapshot()
	over := []struct{ name, key, data string }{
		{"same key, alone over the quota", k, envelope(700, 'c')},
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
	for _, fill := range []byte{'f', 'g'} {
		save(t, s, other, id("k3"), envelope(300, fill))
	}
}

// History yields to the newest save: a backup near the size cap saved again
// and again with the default depth keeps saving; the oldest versions go, and
// the owner sees them go as deleted versions.
func TestHistoryYieldsToTheNewestSave(t *testing.T) {
	blob := blobSize(3000)
	s := newServer(t, func(c *config.Config) { c.MaxBackupBytes, c.UserQuotaBytes = blob, 10*blob+blob/2 })
	u, k := id("u"), id("k")
	register(t, s, u)
	for i := range 14 {
		save(t, s, u, k, envelope(3000, byte('a'+i)))
	}
	vs := listVersions(t, s, u, k)
	if len(vs) != 10 || vs[0].Version != 14 || vs[9].Version != 5 {
		t.Fatalf("versions %+v, want 14 down to 5", vs)
	}
	waitActivity(t, s, u, k, func(evs []activityEvent) bool {
		deleted := int64(0)
		for _, e := range evs {
			if e.Type == "deleted_version" {
				deleted += e.Count
			}
		}
		return deleted == 4
	})
}

// A save whose new version alone exceeds the quota is refused whole, even
// when pruning history would have made room for a smaller one.
func TestQuotaCountsAfterPruning(t *testing.T) {
	blob := blobSize(200)
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes, c.HistoryDepth = 2*blob, 1 })
	u, k := id("u"), id("k")
	register(t, s, u)
	for i := range 5 {
		save(t, s, u, k, envelope(200, byte('a'+i)))
	}
	save(t, s, u, k, envelope(203, 'y')) // the previous version gives way
	if vs := listVersions(t, s, u, k); len(vs) != 1 || vs[0].Version != 6 {
		t.Fatalf("versions %+v, want only 6", vs)
	}
	before := s.Snapshot()
	expectError(t, s.Do(saveReq(u, k, envelope(500, 'z'))), http.StatusRequestEntityTooLarge)
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
		expectError(t, s.Do(saveReq(u, k, envelope(500, 'b'))), http.StatusRequestEntityTooLarge)
	}
	s.Unchanged(before)
	save(t, s, u, k, envelope(200, 'c')) // the hour's second save
	before = s.Snapshot()
	expectError(t, s.Do(saveReq(u, k, envelope(16, 'd'))), http.StatusTooManyRequests)
	s.Unchanged(before)
}
