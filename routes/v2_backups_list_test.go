package routes_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

// The list names each backup of the account, newest save first, with its
// newest version, size and time; versions lists one backup's history.
func TestV2BackupsListAndVersions(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "list-alice", "pw")
	v2Register(t, s, u)
	a, b := newBackupID(), newBackupID()
	v2Save(t, s, u, a, 1, "a1")
	s.Clock.Advance(time.Minute)
	v2Save(t, s, u, b, 1, "b1")
	s.Clock.Advance(time.Minute)
	v2Save(t, s, u, a, 2, "a2 is longer")

	r := s.Do(getReq(u.token, "/api/v2/backups"))
	var list struct {
		Backups []struct {
			ID        string `json:"id"`
			Version   int64  `json:"version"`
			Size      int64  `json:"size"`
			UpdatedAt string `json:"updatedAt"`
		} `json:"backups"`
	}
	decodeJSON(t, r, &list)
	if len(list.Backups) != 2 || list.Backups[0].ID != a || list.Backups[1].ID != b ||
		list.Backups[0].Version != 2 || list.Backups[1].Version != 1 {
		t.Fatalf("list = %s", r.Body)
	}
	if list.Backups[0].Size <= 0 || list.Backups[0].UpdatedAt != s.Clock.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") {
		t.Fatalf("list = %s", r.Body)
	}

	r = s.Do(getReq(u.token, "/api/v2/backups/"+a+"/versions"))
	var vs struct {
		Versions []struct {
			Version int64 `json:"version"`
			Size    int64 `json:"size"`
		} `json:"versions"`
	}
	decodeJSON(t, r, &vs)
	var got []int64
	for _, v := range vs.Versions {
		got = append(got, v.Version)
	}
	if !slices.Equal(got, []int64{2, 1}) || vs.Versions[0].Size != list.Backups[0].Size {
		t.Fatalf("versions = %s", r.Body)
	}
}

// Deleting a backup leaves the account and its other backups.
func TestV2BackupDelete(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "delete-alice", "pw")
	v2Register(t, s, u)
	a, b := newBackupID(), newBackupID()
	v2Save(t, s, u, a, 1, "a")
	v2Save(t, s, u, b, 1, "b")
	r := s.Do(bearer(u.token, servertest.Request{Method: "DELETE", Path: "/api/v2/backups/" + a}))
	if r.Status != http.StatusOK || string(r.Body) != `{"success":true}` {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	expectError(t, s.Do(getReq(u.token, "/api/v2/backups/"+a)), http.StatusNotFound)
	if got, _ := v2Restore(t, s, u, b, 0); got != "b" {
		t.Fatalf("the other backup restores %q", got)
	}
	// The last one too; the account stays, and a deleted id starts again at 1.
	expectStatus(t, s.Do(bearer(u.token, servertest.Request{Method: "DELETE", Path: "/api/v2/backups/" + b})), http.StatusOK)
	v2Login(t, s, u)
	if r := s.Do(getReq(u.token, "/api/v2/backups")); string(r.Body) != `{"backups":[]}` {
		t.Fatalf("list after deleting all: %s", r.Body)
	}
	v2Save(t, s, u, a, 1, "a again")
}
