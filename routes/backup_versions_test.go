package routes_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

func TestVersionsResponse(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	data := envelope(64, 'a')
	saved := save(t, s, u, k, data).JSON(t)
	r := s.Do(servertest.Request{Method: "GET", Path: versionsPath(u, k)})
	want := fmt.Sprintf(`{"versions":[{"version":1,"updatedAt":%q,"size":%d}]}`, saved["updatedAt"], len(data))
	if r.Status != http.StatusOK || string(r.Body) != want {
		t.Fatalf("versions = %d %s, want %s", r.Status, r.Body, want)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers = %v", r.Header)
	}
}

// The list proves as much as a GET: a key that proves nothing gets the
// same 404, and counts as a failed attempt.
func TestVersionsNotFound(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 2 })
	u, owner, k := id("u"), id("owner"), id("k")
	register(t, s, u)
	register(t, s, owner)
	save(t, s, owner, k, envelope(40, 'o'))
	notFound := notFoundBody(t, s)
	before := s.Snapshot()
	for name, path := range map[string]string{
		"unknown user":       versionsPath(id("nobody"), k),
		"another user's key": versionsPath(u, k),
		"unknown key":        versionsPath(u, id("none")),
	} {
		if msg := expectError(t, s.Do(servertest.Request{Method: "GET", Path: path}), http.StatusNotFound); msg != notFound {
			t.Fatalf("%s: %q, want the uniform %q", name, msg, notFound)
		}
	}
	// u failed twice: the burst is spent.
	expectError(t, s.Do(servertest.Request{Method: "GET", Path: versionsPath(u, k)}), http.StatusTooManyRequests)
	s.Unchanged(before)
}

// Deleting the user's data takes every kept version with it.
func TestVersionsGoneAfterDelete(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	for _, fill := range []byte{'a', 'b', 'c'} {
		save(t, s, u, k, envelope(40, fill))
	}
	if r := s.Do(deleteReq(u, k)); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	expectError(t, s.Do(servertest.Request{Method: "GET", Path: versionsPath(u, k)}), http.StatusNotFound)
	expectError(t, getVersion(s, u, k, 2), http.StatusNotFound)
	if n := historyRows(t, s); n != 0 {
		t.Fatalf("%d previous versions left after delete", n)
	}
}

func TestVersionsInvalidQuery(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	for name, q := range map[string]string{
		"missing user":        "?storageKey=" + k,
		"bad key":             "?userId=" + u + "&storageKey=" + k[:10],
		"version not allowed": "?userId=" + u + "&storageKey=" + k + "&version=1",
		"repeated":            "?userId=" + u + "&userId=" + u + "&storageKey=" + k,
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/versions" + q}), http.StatusBadRequest)
		})
	}
	expectError(t, s.Do(servertest.Request{Method: "POST", Path: "/api/backup/versions"}), http.StatusMethodNotAllowed)
}
