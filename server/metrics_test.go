package server_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/usage"
)

const metricsToken = "test-metrics-token-0123456789"

type samples = map[string]*dto.MetricFamily

func scrape(t *testing.T, s *servertest.Server) (samples, string) {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: "/metrics", Header: map[string]string{"Authorization": "Bearer " + metricsToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("scrape: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type = %q", ct)
	}
	fams, err := parseText(strings.NewReader(string(r.Body)))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, r.Body)
	}
	return fams, string(r.Body)
}

// sample is the value of the one sample of name whose labels include the
// given pairs (a histogram's count), 0 when there is none.
func sample(fams samples, name string, labels ...string) float64 {
	v, _ := lookup(fams, name, labels...)
	return v
}

func lookup(fams samples, name string, labels ...string) (float64, bool) {
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
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
	moved("dailyreps_http_request_duration_seconds", 3, "method", "POST", "route", "/api/backup")
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
	s.Clock.Advance(usage.DefaultTTL)
	fresh, _ := scrape(t, s)
	if sample(fresh, "dailyreps_users") != 1 || sample(fresh, "dailyreps_backups") != 1 ||
		sample(fresh, "dailyreps_backup_versions") != 1 {
		t.Errorf("totals after the cache expired: users %v, backups %v, versions %v, bytes %v",
			sample(fresh, "dailyreps_users"), sample(fresh, "dailyreps_backups"),
			sample(fresh, "dailyreps_backup_versions"), sample(fresh, "dailyreps_stored_bytes"))
	}

	// With one user, a figure about bytes would be that user's: withheld.
	if _, ok := lookup(fresh, "dailyreps_stored_bytes"); ok {
		t.Error("stored bytes of a single user are reported")
	}

	// Nothing a client sent, nor its address, appears in the exposition.
	for _, secret := range []string{user, key, other, strings.ToUpper(user), "127.0.0.1", metricsToken} {
		if strings.Contains(text, secret) {
			t.Errorf("the exposition holds %.16s…", secret)
		}
	}
}

func parseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}
