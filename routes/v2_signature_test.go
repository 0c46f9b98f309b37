package routes_test

import (
	"net/http"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// With a signing secret, v2 requests are signed like v1's: a signed flow
// works, an unsigned request is 401, and a replayed save (whose replay
// record is written in the save's transaction) stores nothing.
func TestV2SignedRequests(t *testing.T) {
	s := signingServer(t)
	now := s.Clock.Now().Unix()
	u := newV2User(t, "signed-account", "pw")
	expectError(t, s.Do(postReq("/api/v2/register", u.registerBody())), http.StatusUnauthorized)
	u.token = sessionOf(t, s.Do(signed(t, testSecret, now, postReq("/api/v2/register", u.registerBody()))))

	id := newBackupID()
	put := signed(t, testSecret, now, putReq(u.token, id, 1, u.sealData(t, id, 1, "signed")))
	expectStatus(t, s.Do(put), http.StatusOK)
	before := s.Snapshot()
	if msg := expectError(t, s.Do(put), http.StatusUnauthorized); msg != "This request was already received." {
		t.Fatalf("a replayed save: %q", msg)
	}
	s.Unchanged(before)

	g := s.Do(signed(t, testSecret, now, getReq(u.token, "/api/v2/backups/"+id+"?version=1")))
	expectStatus(t, g, http.StatusOK)
	if got := u.openData(t, id, 1, g.JSON(t)["data"].(string)); got != "signed" {
		t.Fatalf("restore = %q", got)
	}
	expectError(t, s.Do(getReq(u.token, "/api/v2/backups/"+id)), http.StatusUnauthorized)
	expectStatus(t, s.Do(signed(t, testSecret, now, bearer(u.token, servertest.Request{Method: "POST", Path: "/api/v2/logout"}))), http.StatusOK)
}
