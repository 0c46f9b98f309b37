package routes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

type usageBody struct {
	BytesUsed  int64 `json:"bytesUsed"`
	QuotaBytes int64 `json:"quotaBytes"`
	Backups    int64 `json:"backups"`
	Versions   int64 `json:"versions"`
}

func usagePath(user, key string) string {
	return fmt.Sprintf("/api/usage?userId=%s&storageKey=%s", user, key)
}

func getUsage(t *testing.T, s *servertest.Server, user, key string) usageBody {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: usagePath(user, key)})
	if r.Status != http.StatusOK {
		t.Fatalf("usage: %d %s", r.Status, r.Body)
	}
	if len(r.JSON(t)) != 4 {
		t.Fatalf("usage has other members than the four documented: %s", r.Body)
	}
	var u usageBody
	if err := json.Unmarshal(r.Body, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// Usage is the user's whole storage, whichever of their keys asks: every
// backup and every kept version.
func TestUsage(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.HistoryDepth = 2 })
	u, k1, k2 := id("u"), id("k1"), id("k2")
	register(t, s, u)
	var sizes []int64
	for i := range 4 { // the first of four saves is pruned at depth 2
		data := envelope(100+i, 'a')
		save(t, s, u, k1, data)
		sizes = append(sizes, int64(len(data)))
	}
	other := envelope(500, 'b')
	save(t, s, u, k2, other)
	register(t, s, id("stranger"))
	save(t, s, id("stranger"), id("k3"), envelope(900, 'c'))

	want := usageBody{
		BytesUsed:  sizes[1] + sizes[2] + sizes[3] + int64(len(other)),
		QuotaBytes: 50 << 20, // the default
		Backups:    2,
		Versions:   4,
	}
	for _, k := range []string{k1, k2} {
		if got := getUsage(t, s, u, k); got != want {
			t.Fatalf("usage = %+v, want %+v", got, want)
		}
	}
}

func TestUsageReportsConfiguredQuota(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.UserQuotaBytes = 12345 })
	u, k := id("u"), id("k")
	register(t, s, u)
	data := envelope(20, 'a')
	save(t, s, u, k, data)
	if got := getUsage(t, s, u, k); got != (usageBody{int64(len(data)), 12345, 1, 1}) {
		t.Fatalf("usage = %+v", got)
	}
}

// A key that proves nothing gets the one 404, as a GET would, and counts as
// a failed attempt.
func TestUsageNotFound(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 3 })
	u, k, owner := id("u"), id("k"), id("owner")
	register(t, s, u)
	register(t, s, owner)
	save(t, s, owner, k, envelope(40, 'o'))
	notFound := notFoundBody(t, s)
	before := s.Snapshot()
	for name, path := range map[string]string{
		"unknown user":          usagePath(id("nobody"), k),
		"registered, no backup": usagePath(u, id("none")),
		"another user's key":    usagePath(u, k),
	} {
		msg := expectError(t, s.Do(servertest.Request{Method: "GET", Path: path}), http.StatusNotFound)
		if msg != notFound {
			t.Fatalf("%s: %q, want the uniform %q", name, msg, notFound)
		}
	}
	// u has now failed twice from this address; one more and it must wait.
	expectError(t, s.Do(servertest.Request{Method: "GET", Path: usagePath(u, id("again"))}), http.StatusNotFound)
	r := s.Do(servertest.Request{Method: "GET", Path: usagePath(u, id("again"))})
	expectError(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.Unchanged(before)
}

func TestUsageInvalidQuery(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	for name, q := range map[string]string{
		"missing key":   "?userId=" + u,
		"bad user":      "?userId=xyz&storageKey=" + k,
		"unknown param": "?userId=" + u + "&storageKey=" + k + "&version=1",
		"repeated":      "?userId=" + u + "&storageKey=" + k + "&storageKey=" + k,
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/api/usage" + q}), http.StatusBadRequest)
		})
	}
	expectError(t, s.Do(servertest.Request{Method: "POST", Path: "/api/usage"}), http.StatusMethodNotAllowed)
}
