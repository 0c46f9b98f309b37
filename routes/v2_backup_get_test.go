package routes_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// A restore answers the newest version or the one asked for, with its
// ETag, and 304 when the client has it.
func TestV2BackupGet(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "get-alice", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	for v := int64(1); v <= 3; v++ {
		v2Save(t, s, u, id, v, fmt.Sprint("version ", v))
	}
	for v := int64(0); v <= 3; v++ {
		want := v
		if v == 0 {
			want = 3
		}
		got, gotV := v2Restore(t, s, u, id, v)
		if gotV != want || got != fmt.Sprint("version ", want) {
			t.Fatalf("restore v%d = %q v%d", v, got, gotV)
		}
	}
	r := s.Do(getReq(u.token, "/api/v2/backups/"+id))
	m := r.JSON(t)
	if len(m) != 3 || r.Header.Get("ETag") != `"3"` || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("restore answered %v, ETag %s", m, r.Header.Get("ETag"))
	}
	if _, ok := m["wrappedLegacyKey"]; ok {
		t.Fatal("a backup saved under v2 carries a legacy key")
	}
	for _, tag := range []string{`"3"`, `W/"3"`, `"1", "3"`, "*"} {
		r := s.Do(withHeader(getReq(u.token, "/api/v2/backups/"+id), "If-None-Match", tag))
		if r.Status != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != `"3"` {
			t.Fatalf("If-None-Match %s: %d %q", tag, r.Status, r.Body)
		}
	}
	expectStatus(t, s.Do(withHeader(getReq(u.token, "/api/v2/backups/"+id), "If-None-Match", `"2"`)), http.StatusOK)
}

func TestV2BackupGetNotFound(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "get-bob", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	v2Save(t, s, u, id, 1, "one")
	for _, path := range []string{
		"/api/v2/backups/" + newBackupID(),
		"/api/v2/backups/" + id + "?version=2",
		"/api/v2/backups/" + newBackupID() + "/versions",
	} {
		msg := expectError(t, s.Do(getReq(u.token, path)), http.StatusNotFound)
		if !strings.Contains(msg, "no such backup") {
			t.Fatalf("%s: 404 says %q", path, msg)
		}
	}
	expectError(t, s.Do(bearer(u.token, servertest.Request{Method: "DELETE", Path: "/api/v2/backups/" + newBackupID()})), http.StatusNotFound)
}
