package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/metrics"
	"github.com/dailyreps/backup/metrics/metricstest"
	"github.com/dailyreps/backup/servertest"
)

const metricsToken = "test-metrics-token-0123456789"

func scrape(t *testing.T, s *servertest.Server) ([]metricstest.Sample, string) {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: "/metrics", Header: map[string]string{"Authorization": "Bearer " + metricsToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("scrape: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != metrics.ContentType {
		t.Fatalf("Content-Type = %q", ct)
	}
	samples, err := metricstest.Parse(string(r.Body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, r.Body)
	}
	return samples, string(r.Body)
}

func sample(samples []metricstest.Sample, name string, labels ...string) float64 {
	v, _ := metricstest.Value(samples, name, labels...)
	return v
}

func envelopeOf(n int) string {
	b, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", n))),
		"nonce":     "AAECAwQFBgcICQoL",
	})
	return string(b)
}

// Without a token nothing is collected and /metrics does not exist.
func TestMetricsOffWithoutToken(t *testing.T) {
	s := servertest.New(t)
	for _, auth := range []string{"", "Bearer ", "Bearer anything-at-all-1234"} {
		r := s.Do(servertest.Request{Method: "GET", Path: "/metrics", Header: map[string]string{"Authorization": auth}})
		if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"error"`) {
			t.Fatalf("GET /metrics (Authorization %q) with metrics off: %d %s", auth, r.Status, r.Body)
		}
	}
}

func TestMetrics(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.MetricsToken = metricsToken
		c.IPBurst, c.NewUsersPerIPPerDay, c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0, 0, 0
		c.RegisterPerHour = 1 // the second registration is refused
		c.MaxBackupBytes = 4 << 10
	}))

	// The token is required, and compared exactly.
	for _, auth := range []string{"", "Bearer ", "Bearer " + metricsToken + "x", "Basic " + metricsToken, metricsToken} {
		r := s.Do(servertest.Request{Method: "GET", Path: "/metrics", Header: map[string]string{"Authorization": auth}})
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("GET /metrics with Authorization %q: %d %s", auth, r.Status, r.Body)
		}
	}

	before, _ := scrape(t, s)
	if sample(before, "dailyreps_users") != 0 || sample(before, "dailyreps_store_up") != 1 {
		t.Fatalf("totals before any user: %+v", before)
	}

	user, key := servertest.ID("metrics-user"), servertest.ID("metrics-key")
	other := servertest.ID("metrics-other")
	do := func(method, path string, body any, want int) {
		t.Helper()
		if r := s.Do(servertest.Request{Method: method, Path: path, Body: body}); r.Status != want {
			t.Fatalf("%s %s = %d, want %d (%s)", method, path, r.Status, want, r.Body)
		}
	}
	do("POST", "/api/register", map[string]string{"userId": user}, 200)
	do("POST", "/api/register", map[string]string{"userId": other}, 429)
	do("POST", "/api/backup", map[string]string{"userId": user, "storageKey": key, "data": envelopeOf(100)}, 200)
	do("POST", "/api/backup", map[string]string{"userId": user, "storageKey": key, "data": envelopeOf(8 << 10)}, 413)
	do("POST", "/api/backup", `{"userId": 1}`, 400)
	do("GET", "/api/backup?userId="+user+"&storageKey="+key, nil, 200)
	do("GET", "/api/backup?userId="+user+"&storageKey="+other, nil, 404)

	after, text := scrape(t, s)
	moved := func(name string, want float64, labels ...string) {
		t.Helper()
		if d := sample(after, name, labels...) - sample(before, name, labels...); d != want {
			t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
		}
	}
	req := func(method, route, status string) []string {
		return []string{"method", method, "route", route, "status", status}
	}
	moved("dailyreps_http_requests_total", 1, req("POST", "/api/register", "200")...)
	moved("dailyreps_http_requests_total", 1, req("POST", "/api/register", "429")...)
	moved("dailyreps_http_requests_total", 1, req("POST", "/api/backup", "200")...)
	moved("dailyreps_http_requests_total", 1, req("POST", "/api/backup", "413")...)
	moved("dailyreps_http_requests_total", 1, req("POST", "/api/backup", "400")...)
	moved("dailyreps_http_requests_total", 1, req("GET", "/api/backup", "404")...)
	moved("dailyreps_http_requests_total", 1, req("GET", "/metrics", "200")...)
	moved("dailyreps_http_request_duration_seconds_count", 3, "method", "POST", "route", "/api/backup")
	moved("dailyreps_http_request_duration_seconds_bucket", 3, "method", "POST", "route", "/api/backup", "le", "+Inf")
	moved("dailyreps_http_refusals_total", 1, "reason", "rate_limited")
	moved("dailyreps_http_refusals_total", 1, "reason", "too_large")
	moved("dailyreps_http_refusals_total", 1, "reason", "invalid")
	moved("dailyreps_http_refusals_total", 1, "reason", "not_found")
	if sample(after, "dailyreps_http_refusals_total", "reason", "bad_signature") < 5 {
		t.Error("the refused scrapes are not counted")
	}

	// The store's totals are cached: they move once the cache expires.
	if sample(after, "dailyreps_users") != 0 {
		t.Error("totals re-read inside the cache's lifetime")
	}
	s.Clock.Advance(metrics.DefaultStatsTTL)
	fresh, _ := scrape(t, s)
	if sample(fresh, "dailyreps_users") != 1 || sample(fresh, "dailyreps_backups") != 1 ||
		sample(fresh, "dailyreps_backup_versions") != 1 || sample(fresh, "dailyreps_stored_bytes") < 100 {
		t.Errorf("totals after the cache expired: users %v, backups %v, versions %v, bytes %v",
			sample(fresh, "dailyreps_users"), sample(fresh, "dailyreps_backups"),
			sample(fresh, "dailyreps_backup_versions"), sample(fresh, "dailyreps_stored_bytes"))
	}

	// Nothing a client sent, nor its address, appears in the exposition.
	for _, secret := range []string{user, key, other, strings.ToUpper(user), "127.0.0.1", metricsToken} {
		if strings.Contains(text, secret) {
			t.Errorf("the exposition holds %.16s…", secret)
		}
	}
}
