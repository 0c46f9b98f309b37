package routes_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
)

func TestHealth(t *testing.T) {
	s := newServer(t)
	r := s.Do(servertest.Request{Method: "GET", Path: "/health"})
	if r.Status != 200 || string(r.Body) != `{"status":"ok"}` {
		t.Fatalf("health = %d %s", r.Status, r.Body)
	}
	// An unusable database: the round trip fails.
	if _, err := s.DB().NewQuery(`DROP TABLE dailyreps_meta`).Execute(); err != nil {
		t.Fatal(err)
	}
	expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/health"}), http.StatusServiceUnavailable)
}

func TestHealthDiskFull(t *testing.T) {
	var free uint64 = 1 << 30
	var fail error
	s := servertest.New(t, servertest.WithOptions(func(o *server.Options) {
		o.FreeDisk = func(string) (uint64, error) { return free, fail }
	}))
	if r := s.Do(servertest.Request{Method: "GET", Path: "/health"}); r.Status != 200 {
		t.Fatalf("health = %d", r.Status)
	}
	free = 1 << 20
	msg := expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/health"}), http.StatusServiceUnavailable)
	if msg == "" {
		t.Fatal("no reason given")
	}
	free, fail = 1<<30, errors.New("statfs failed")
	expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/health"}), http.StatusServiceUnavailable)
}
