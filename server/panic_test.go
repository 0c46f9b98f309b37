package server_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
)

// A handler's panic is answered with the generic 500 and logged with its
// value and stack, so that an operator can find the fault; an id in the
// value is not logged.
func TestPanicIsLoggedWithValueAndStack(t *testing.T) {
	id := servertest.ID("panic-user")
	var armed atomic.Bool // once the server is up (its readiness probe is /health)
	s := servertest.New(t, servertest.WithOptions(func(o *server.Options) {
		o.FreeDisk = func(string) (uint64, error) {
			if armed.Load() {
				panic("disk-probe-canary for " + id)
			}
			return 1 << 40, nil
		}
	}))
	armed.Store(true)
	r := s.Do(servertest.Request{Method: "GET", Path: "/health"})
	if r.Status != http.StatusInternalServerError || strings.Contains(string(r.Body), "canary") {
		t.Fatalf("panicking handler answered %d %s", r.Status, r.Body)
	}
	s.Stop()
	var logged string
	for _, row := range servertest.LogRows(t, s.App.DataDir()) {
		if strings.Contains(row.Data, "disk-probe-canary") {
			logged = row.Data
		}
		if strings.Contains(row.Message+row.Data, id) {
			t.Errorf("a log line holds the id: %s", row.Data)
		}
	}
	if logged == "" {
		t.Fatal("the panic's value was not logged")
	}
	if !strings.Contains(logged, "goroutine") || !strings.Contains(logged, "healthGet") {
		t.Fatalf("the panic was logged without its stack: %.300s", logged)
	}
}
