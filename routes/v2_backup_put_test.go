package routes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
)

// Versions are numbered by the client: each save must be the newest + 1,
// and a stale one is a 412 naming the newest.
func TestV2BackupPutVersions(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "put-alice", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	before := s.Snapshot()
	// No backup yet: only version 1.
	r := s.Do(putReq(u.token, id, 2, u.sealData(t, id, 2, "too far")))
	expectError(t, r, http.StatusPreconditionFailed)
	if r.Header.Get("ETag") != "" {
		t.Fatalf("412 on a new backup names version %s", r.Header.Get("ETag"))
	}
	s.Unchanged(before)
	v2Save(t, s, u, id, 1, "one")
	v2Save(t, s, u, id, 2, "two")
	before = s.Snapshot()
	for _, v := range []int64{1, 2, 4} {
		r := s.Do(putReq(u.token, id, v, u.sealData(t, id, v, "stale")))
		expectError(t, r, http.StatusPreconditionFailed)
		if r.Header.Get("ETag") != `"2"` {
			t.Fatalf("412 for version %d: ETag %q, want \"2\"", v, r.Header.Get("ETag"))
		}
	}
	s.Unchanged(before)
	if got, v := v2Restore(t, s, u, id, 0); got != "two" || v != 2 {
		t.Fatalf("restore = %q v%d", got, v)
	}
}

// A v2 save takes a v2 envelope only.
func TestV2BackupPutNeedsV2Envelope(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "put-bob", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	before := s.Snapshot()
	for name, data := range map[string]string{
		"v1 envelope": envelope(48, 'a'),
		"bare base64": "AAAAAAAAAAAAAAAAAAAAAA==",
		"v 1":         `{"v":1,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`,
	} {
		if msg := expectError(t, s.Do(putReq(u.token, id, 1, data)), http.StatusBadRequest); !strings.Contains(msg, "v2") {
			t.Fatalf("%s: 400 says %q", name, msg)
		}
	}
	s.Unchanged(before)
}

// The account's limits apply as v1's do per backup; the per-address slots
// do not (only the account's sessions reach it).
func TestV2BackupPutLimits(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.MaxBackupsPerUser, c.MaxBackupsPerIP, c.SavesPerHour, c.MaxBackupBytes = 3, 1, 2, 4096
	})
	u := newV2User(t, "put-carol", "pw")
	v2Register(t, s, u)
	ids := []string{newBackupID(), newBackupID(), newBackupID()}
	for _, id := range ids { // three from one address: the per-address slot is off
		v2Save(t, s, u, id, 1, "x")
	}
	before := s.Snapshot()
	r := s.Do(putReq(u.token, newBackupID(), 1, u.sealData(t, newBackupID(), 1, "fourth")))
	if msg := expectError(t, r, http.StatusTooManyRequests); !strings.Contains(msg, "backups per user") {
		t.Fatalf("fourth backup: %q", msg)
	}
	s.Unchanged(before)
	v2Save(t, s, u, ids[0], 2, "y")
	before = s.Snapshot()
	expectError(t, s.Do(putReq(u.token, ids[0], 3, u.sealData(t, ids[0], 3, "z"))), http.StatusTooManyRequests)
	big := u.sealData(t, ids[1], 2, string(randomBytes(4096)))
	expectError(t, s.Do(putReq(u.token, ids[1], 2, big)), http.StatusRequestEntityTooLarge)
	s.Unchanged(before)
}

// The quota bounds each backup with its history, as on v1: older versions
// give way, and a version alone over it is a 413.
func TestV2BackupPutQuota(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes, c.HistoryDepth = 1200, 10 })
	u := newV2User(t, "put-dave", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	for v := int64(1); v <= 4; v++ {
		v2Save(t, s, u, id, v, string(randomBytes(300)))
	}
	var vs struct {
		Versions []map[string]any `json:"versions"`
	}
	decodeJSON(t, s.Do(getReq(u.token, "/api/v2/backups/"+id+"/versions")), &vs)
	if len(vs.Versions) >= 4 || vs.Versions[0]["version"] != float64(4) {
		t.Fatalf("the quota kept %v", vs.Versions)
	}
	before := s.Snapshot()
	r := s.Do(putReq(u.token, id, 5, u.sealData(t, id, 5, string(randomBytes(1300)))))
	if msg := expectError(t, r, http.StatusRequestEntityTooLarge); !strings.Contains(msg, "quota") {
		t.Fatalf("413 says %q", msg)
	}
	s.Unchanged(before)
}
