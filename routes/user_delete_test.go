package routes_test

import (
	"net/http"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

func TestDelete(t *testing.T) {
	s := newServer(t)
	u, k1, k2 := id("u"), id("k1"), id("k2")
	register(t, s, u)
	save(t, s, u, k1, envelope(32, '1'))
	save(t, s, u, k2, envelope(32, '2'))

	before := s.Snapshot()
	unknownKey := s.Do(deleteReq(u, id("wrong")))
	unknownUser := s.Do(deleteReq(id("nobody"), k1))
	expectError(t, unknownKey, http.StatusNotFound)
	if string(unknownKey.Body) != string(unknownUser.Body) || unknownUser.Status != 404 {
		t.Fatal("delete 404s differ between unknown user and unknown key")
	}
	s.Unchanged(before)

	// The other password's backup survives, and the answer says so: an
	// additive member, the rest of the body as the original client expects.
	r := s.Do(deleteReq(u, k1))
	if r.Status != 200 || string(r.Body) != `{"success":true,"remainingBackups":1}` {
		t.Fatalf("delete = %d %s", r.Status, r.Body)
	}
	expectError(t, get(s, u, k1), http.StatusNotFound)
	// One key never deletes a backup written under another key.
	if get(s, u, k2).Status != 200 {
		t.Fatal("deleting one key removed another key's backup")
	}
	// The user row stays while a backup is left, and goes with the last.
	expectError(t, s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}), http.StatusConflict)
	if r := s.Do(deleteReq(u, k2)); r.Status != 200 || string(r.Body) != `{"success":true,"remainingBackups":0}` {
		t.Fatalf("delete last = %d %s", r.Status, r.Body)
	}
	register(t, s, u)
}

func TestDeleteInvalid(t *testing.T) {
	s := newServer(t)
	before := s.Snapshot()
	for _, body := range []string{`{}`, `{"userId":"x","storageKey":"y"}`, `{"userId":"` + id("u") + `"}`, `[]`} {
		expectError(t, s.Do(servertest.Request{Method: "DELETE", Path: "/api/user", Body: body}), http.StatusBadRequest)
	}
	s.Unchanged(before)
}
