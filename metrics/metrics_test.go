package metrics_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dailyreps/backup/metrics"
)

// scrape fetches the exposition as Prometheus would (text format) and
// parses it back with Prometheus's own parser.
func scrape(t *testing.T, r *metrics.Registry) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	r.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	text := rec.Body.String()
	families, err := parseText(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return text, families
}

// value returns the value of the one sample of name whose labels include the
// given pairs.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := find(fams, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v", name, labels)
	}
	return v
}

func find(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
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

func TestCountsAndHistogram(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "1.2.3"})
	r.Observe("POST /api/backup", 200, 3*time.Millisecond)
	r.Observe("POST /api/backup", 200, 70*time.Millisecond)
	r.Observe("POST /api/backup", 429, time.Millisecond)
	r.Observe("GET /api/backup", 404, 2*time.Second)
	r.Observe("GET /api/backup", 404, 500*time.Second) // past the last bucket

	_, f := scrape(t, r)
	post := []string{"method", "POST", "route", "/api/backup"}
	get := []string{"method", "GET", "route", "/api/backup"}
	if v := value(t, f, "dailyreps_http_requests_total", append(post, "status", "200")...); v != 2 {
		t.Errorf("POST 200 = %v, want 2", v)
	}
	if v := value(t, f, "dailyreps_http_requests_total", append(post, "status", "429")...); v != 1 {
		t.Errorf("POST 429 = %v, want 1", v)
	}
	if v := value(t, f, "dailyreps_http_requests_total", append(get, "status", "404")...); v != 2 {
		t.Errorf("GET 404 = %v, want 2", v)
	}

	// Buckets are cumulative; the count includes what passed the last one.
	hist := func(labels []string) *dto.Histogram {
		for _, m := range f["dailyreps_http_request_duration_seconds"].GetMetric() {
			if m.GetLabel()[0].GetValue() == labels[1] {
				return m.GetHistogram()
			}
		}
		t.Fatalf("no histogram for %v", labels)
		return nil
	}
	bucket := func(h *dto.Histogram, le float64) uint64 {
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == le {
				return b.GetCumulativeCount()
			}
		}
		t.Fatalf("no bucket %v", le)
		return 0
	}
	hp, hg := hist(post), hist(get)
	for le, want := range map[float64]uint64{0.005: 2, 0.05: 2, 0.1: 3} {
		if got := bucket(hp, le); got != want {
			t.Errorf("POST bucket le=%v = %v, want %v", le, got, want)
		}
	}
	for le, want := range map[float64]uint64{1: 0, 2.5: 1, 120: 1} {
		if got := bucket(hg, le); got != want {
			t.Errorf("GET bucket le=%v = %v, want %v", le, got, want)
		}
	}
	if hg.GetSampleCount() != 2 || hp.GetSampleCount() != 3 {
		t.Errorf("counts = %d, %d", hp.GetSampleCount(), hg.GetSampleCount())
	}
	if math.Abs(hp.GetSampleSum()-0.074) > 1e-9 {
		t.Errorf("POST sum = %v, want 0.074", hp.GetSampleSum())
	}
	if v := value(t, f, "dailyreps_http_refusals_total", "reason", "rate_limited"); v != 1 {
		t.Errorf("rate_limited = %v", v)
	}
	if v := value(t, f, "dailyreps_http_refusals_total", "reason", "not_found"); v != 2 {
		t.Errorf("not_found = %v", v)
	}
	if v := value(t, f, "dailyreps_build_info", "version", "1.2.3"); v != 1 {
		t.Errorf("build_info = %v", v)
	}
	if _, ok := find(f, "dailyreps_store_up"); ok {
		t.Error("store figures reported without a store")
	}
	// The runtime and process collectors operators expect.
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes", "process_open_fds"} {
		if f[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// Whatever reaches Observe, labels hold only fixed values: a pattern that is
// not a plain route (here carrying an id, a query or quotes) becomes "other".
func TestLabelsNeverCarryInput(t *testing.T) {
	const secret = "a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef"
	r := metrics.New(metrics.Options{Version: "v\"1\\\n"})
	for _, p := range []string{
		"GET /api/backup?userId=" + secret,
		"GET /api/" + strings.ToUpper(secret),
		"GET /api/backup " + secret,
		"get /api/backup",
		`GET /a"b`,
		"",
	} {
		r.Observe(p, 200, time.Millisecond)
	}
	r.Observe("GET /api/backup", 1000, time.Millisecond)
	text, f := scrape(t, r)
	if strings.Contains(strings.ToLower(text), secret) {
		t.Fatalf("a label carries the input:\n%s", text)
	}
	if v := value(t, f, "dailyreps_http_requests_total", "route", "other", "status", "200"); v != 6 {
		t.Errorf("other = %v, want 6", v)
	}
	if v := value(t, f, "dailyreps_http_requests_total", "route", "/api/backup", "status", "0"); v != 1 {
		t.Errorf("an impossible status is not folded into 0: %v", v)
	}
	if v := value(t, f, "dailyreps_build_info", "version", "v\"1\\\n"); v != 1 {
		t.Error("escaped version label does not read back")
	}
}

func TestReason(t *testing.T) {
	for status, want := range map[int]string{
		200: "", 204: "", 304: "", 500: "",
		400: "invalid", 401: "bad_signature", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
		409: "conflict", 412: "stale_version", 413: "too_large", 415: "unsupported_media_type",
		429: "rate_limited", 503: "unavailable", 507: "storage_full", 418: "other_client_error",
	} {
		if got := metrics.Reason(status); got != want {
			t.Errorf("Reason(%d) = %q, want %q", status, got, want)
		}
	}
}

// The store's figures are read at each scrape; a failed read reports
// store_up 0 and leaves them out.
func TestStoreGauges(t *testing.T) {
	fail := false
	r := metrics.New(metrics.Options{Gauges: func(context.Context) ([]metrics.Gauge, error) {
		if fail {
			return nil, errors.New("database down")
		}
		return []metrics.Gauge{
			{Name: "dailyreps_users", Help: "Users.", Value: 7},
			{Name: "dailyreps_active_users", Help: "Active.", Label: "window", LabelValue: "1d", Value: 5},
			{Name: "dailyreps_active_users", Help: "Active.", Label: "window", LabelValue: "7d", Value: 6},
		}, nil
	}})
	_, f := scrape(t, r)
	if value(t, f, "dailyreps_store_up") != 1 || value(t, f, "dailyreps_users") != 7 ||
		value(t, f, "dailyreps_active_users", "window", "7d") != 6 {
		t.Fatalf("figures: %v", f)
	}
	fail = true
	_, f = scrape(t, r)
	if value(t, f, "dailyreps_store_up") != 0 {
		t.Fatal("store_up is not 0 after a failed read")
	}
	if _, ok := find(f, "dailyreps_users"); ok {
		t.Fatal("figures reported after a failed read")
	}
}

func TestAuthorized(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	for _, tc := range []struct {
		header, token string
		want          bool
	}{
		{"Bearer " + token, token, true},
		{"bearer " + token, token, true},
		{"Bearer " + token + "x", token, false},
		{"Bearer " + token[:len(token)-1], token, false},
		{"Basic " + token, token, false},
		{token, token, false},
		{"", token, false},
		{"Bearer ", "", false},
		{"Bearer x", "", false},
	} {
		if got := metrics.Authorized(tc.header, tc.token); got != tc.want {
			t.Errorf("Authorized(%q, %q) = %v, want %v", tc.header, tc.token, got, tc.want)
		}
	}
}

func parseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}
