package routes_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// Every API answer, refusals of every kind included, is private and not
// sniffable.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.HMACSecret = []byte(testSecret)
		c.IPBurst, c.FailedLookupBurst = 2, 0
		behindProxy(c)
	}))
	u, k := id("headers"), id("headers-key")
	now := s.Clock.Now().Unix()
	tooBig := strings.Repeat(" ", 6<<20)
	for i, c := range []struct {
		name string
		req  servertest.Request
	}{
		{"register", signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})},
		{"save", signed(t, testSecret, now, saveReq(u, k, envelope(32, 'h')))},
	} {
		r := s.Do(from(fmt.Sprint("198.51.100.", i+1), c.req))
		expectStatus(t, r, http.StatusOK)
		expectSecurityHeaders(t, c.name, r)
	}
	before := s.Snapshot()
	cases := []struct {
		name   string
		req    servertest.Request
		status int
	}{
		{"get", signed(t, testSecret, now, servertest.Request{Method: "GET", Path: getPath(u, k)}), 200},
		{"not found", signed(t, testSecret, now, servertest.Request{Method: "GET", Path: getPath(u, id("nokey"))}), 404},
		{"invalid", signed(t, testSecret, now, servertest.Request{Method: "GET", Path: "/api/backup?userId=x"}), 400},
		{"unsigned", servertest.Request{Method: "GET", Path: getPath(u, k)}, 401},
		{"skewed", signed(t, testSecret, now-3600, servertest.Request{Method: "GET", Path: getPath(u, k)}), 401},
		{"too large", signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/backup", Body: tooBig}), 413},
		{"wrong type", servertest.Request{Method: "POST", Path: "/api/backup", Body: "x", ContentType: ptr("text/plain")}, 415},
		{"wrong method", servertest.Request{Method: "PUT", Path: "/api/backup"}, 405},
		{"foreign origin", withHeader(saveReq(u, k, envelope(32, 'x')), "Origin", foreignOrigin), 403},
		{"preflight", preflight("/api/backup", foreignOrigin, "POST"), 403},
		{"options", servertest.Request{Method: "OPTIONS", Path: "/api/backup"}, 204},
		{"info", servertest.Request{Method: "GET", Path: "/api/info"}, 200},
		{"health", servertest.Request{Method: "GET", Path: "/health"}, 200},
	}
	for i, c := range cases {
		r := s.Do(from(fmt.Sprint("192.0.2.", i+1), c.req))
		expectStatus(t, r, c.status)
		expectSecurityHeaders(t, c.name, r)
	}
	// A bucket of two is empty after two requests.
	for range 2 {
		s.Do(from("198.51.100.100", cheap()))
	}
	r := s.Do(from("198.51.100.100", cheap()))
	expectError(t, r, http.StatusTooManyRequests)
	expectSecurityHeaders(t, "rate limited", r)
	s.Unchanged(before)
}

func expectSecurityHeaders(t *testing.T, name string, r *servertest.Response) {
	t.Helper()
	for header, want := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := r.Header.Values(header); len(got) != 1 || got[0] != want {
			t.Errorf("%s (%d): %s = %q, want %q", name, r.Status, header, got, want)
		}
	}
}
