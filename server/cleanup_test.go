package server_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// A backup an admin deletes in the dashboard takes its versions and activity
// with it; another user's backup under the same storage key stays whole.
func TestDashboardDeleteRemovesVersions(t *testing.T) {
	// The dashboard's collections are the SQLite backend's, whatever the suite's.
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.DatabaseURL, c.IPBurst, c.SavesPerHour = "", 0, 0 }))
	key := servertest.ID("k")
	for _, u := range []string{servertest.ID("a"), servertest.ID("b")} {
		if r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}); r.Status != http.StatusOK {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		for _, data := range []string{`{"encrypted":"AAAAAAAAAAAAAAAAAAAAAAAA","nonce":"AAECAwQFBgcICQoL"}`, `{"encrypted":"BBBBBBBBBBBBBBBBBBBBBBBB","nonce":"AAECAwQFBgcICQoL"}`} {
			r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup", Body: map[string]string{"userId": u, "storageKey": key, "data": data}})
			if r.Status != http.StatusOK {
				t.Fatalf("save: %d %s", r.Status, r.Body)
			}
		}
	}
	if _, err := s.App.DB().NewQuery(`INSERT INTO activity (user_id, storage_key, kind, minute, count)
		SELECT user_id, storage_key, 'restored', 1, 1 FROM backups`).Execute(); err != nil {
		t.Fatal(err)
	}
	records, err := s.App.FindAllRecords("backups")
	if err != nil || len(records) != 2 {
		t.Fatalf("backups records: %d, %v", len(records), err)
	}
	gone, kept := records[0], records[1]
	if err := s.App.Delete(gone); err != nil {
		t.Fatal(err)
	}
	count := func(q string, id string) int {
		var n int
		if err := s.App.DB().NewQuery(q).Bind(dbx.Params{"id": id}).Row(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const versions = `SELECT COUNT(*) FROM backup_versions WHERE backup_id = {:id}`
	const activity = `SELECT COUNT(*) FROM activity a JOIN backups b ON a.user_id = b.user_id AND a.storage_key = b.storage_key WHERE b.id = {:id}`
	if n := count(versions, gone.Id); n != 0 {
		t.Fatalf("%d versions of the deleted backup left", n)
	}
	if n := count(`SELECT COUNT(*) FROM activity WHERE user_id = {:id}`, gone.GetString("user_id")); n != 0 {
		t.Fatalf("%d activity rows of the deleted backup's user left", n)
	}
	if count(versions, kept.Id) != 2 || count(activity, kept.Id) != 1 {
		t.Fatal("the other user's backup under the same key lost versions or activity")
	}
}

// A user an admin deletes in the dashboard takes their protocol v2 account
// and its sessions with them; another account stays.
func TestDashboardDeleteRemovesAccount(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.DatabaseURL = "" }))
	for _, u := range []string{servertest.ID("gone"), servertest.ID("kept")} {
		for _, stmt := range []string{
			`INSERT INTO users (id, created) VALUES ({:id}, '2026-12-01 00:00:00.000Z')`,
			`INSERT INTO accounts (user_id, kdf, verifier, recovery_verifier, wrapped_key, recovery_wrapped_key, created, updated)
				VALUES ({:id}, '{}', 'v', 'r', 'w', 'rw', 0, 0)`,
			`INSERT INTO sessions (token, user_id, expires) VALUES ({:id} || '-session', {:id}, 9999999999999)`,
		} {
			if _, err := s.App.DB().NewQuery(stmt).Bind(dbx.Params{"id": u}).Execute(); err != nil {
				t.Fatal(err)
			}
		}
	}
	gone, err := s.App.FindRecordById("users", servertest.ID("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.App.Delete(gone); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{`SELECT COUNT(*) FROM accounts WHERE user_id = {:id}`, 0},
		{`SELECT COUNT(*) FROM sessions WHERE user_id = {:id}`, 0},
		{`SELECT COUNT(*) FROM accounts`, 1},
		{`SELECT COUNT(*) FROM sessions`, 1},
	} {
		var n int
		if err := s.App.DB().NewQuery(c.q).Bind(dbx.Params{"id": gone.Id}).Row(&n); err != nil || n != c.want {
			t.Errorf("%s: %d, %v; want %d", c.q, n, err, c.want)
		}
	}
}
