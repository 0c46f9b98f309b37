package routes_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// The account's usage covers every backup and version; its activity every
// backup's saves and restores and the failed attempts, newest first.
func TestV2AccountGet(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes = 1 << 20 })
	u := newV2User(t, "account-alice", "pw")
	v2Register(t, s, u)
	a, b := newBackupID(), newBackupID()
	v2Save(t, s, u, a, 1, "a1")
	v2Save(t, s, u, a, 2, "a2")
	v2Save(t, s, u, b, 1, "b1")
	s.Clock.Advance(2 * time.Minute)
	v2Restore(t, s, u, a, 0)
	wrong := u.loginBody()
	wrong["auth"] = u.passwordMaterial(t, "no", 0).auth
	expectError(t, s.Do(postReq("/api/v2/login", wrong)), http.StatusUnauthorized)

	var got struct {
		BytesUsed  int64 `json:"bytesUsed"`
		QuotaBytes int64 `json:"quotaBytes"`
		Backups    int64 `json:"backups"`
		Versions   int64 `json:"versions"`
		Events     []struct {
			Type  string `json:"type"`
			At    string `json:"at"`
			Count int64  `json:"count"`
		} `json:"events"`
	}
	// Events are recorded in batches: wait for them to land.
	deadline := time.Now().Add(10 * time.Second)
	for {
		decodeJSON(t, s.Do(getReq(u.token, "/api/v2/account")), &got)
		if len(got.Events) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Backups != 2 || got.Versions != 3 || got.BytesUsed <= 0 || got.QuotaBytes != 1<<20 {
		t.Fatalf("account = %+v", got)
	}
	kinds := map[string]int64{}
	for i, ev := range got.Events {
		kinds[ev.Type] += ev.Count
		if i > 0 && ev.At > got.Events[i-1].At {
			t.Fatalf("events not newest first: %+v", got.Events)
		}
	}
	if kinds["saved"] != 3 || kinds["restored"] != 1 || kinds["failed_attempt"] != 1 {
		t.Fatalf("events = %+v", got.Events)
	}
}

// Deleting the account needs the session and the password's key; it
// removes every backup and session, and the name can be registered again.
func TestV2AccountDelete(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "account-bob", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	v2Save(t, s, u, id, 1, "gone soon")
	other := u.token
	v2Login(t, s, u)

	before := s.Snapshot()
	del := func(auth string) servertest.Request {
		return bearer(u.token, servertest.Request{Method: "DELETE", Path: "/api/v2/account", Body: map[string]string{"auth": auth}})
	}
	expectError(t, s.Do(del(u.recoveryAuth)), http.StatusUnauthorized)
	s.Unchanged(before)
	r := s.Do(del(u.password.auth))
	if r.Status != http.StatusOK || string(r.Body) != `{"success":true}` {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for _, token := range []string{u.token, other} {
		expectError(t, s.Do(getReq(token, "/api/v2/backups")), http.StatusUnauthorized)
	}
	expectError(t, s.Do(postReq("/api/v2/login", u.loginBody())), http.StatusUnauthorized)
	again := newV2User(t, "account-bob", "new pw")
	v2Register(t, s, again)
	expectError(t, s.Do(getReq(again.token, "/api/v2/backups/"+id)), http.StatusNotFound)
}
