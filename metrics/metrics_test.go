package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dailyreps/backup/metrics"
	"github.com/dailyreps/backup/metrics/metricstest"
	"github.com/dailyreps/backup/store"
)

func render(t *testing.T, r *metrics.Registry) (string, []metricstest.Sample) {
	t.Helper()
	var b bytes.Buffer
	if err := r.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	samples, err := metricstest.Parse(b.String())
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, b.String())
	}
	return b.String(), samples
}

func value(t *testing.T, samples []metricstest.Sample, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricstest.Value(samples, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v", name, labels)
	}
	return v
}

func TestCountsAndHistogram(t *testing.T) {
	r := metrics.New(metrics.Options{Version: "1.2.3"})
	r.Observe("POST /api/backup", 200, 3*time.Millisecond)
	r.Observe("POST /api/backup", 200, 70*time.Millisecond)
	r.Observe("POST /api/backup", 429, time.Millisecond)
	r.Observe("GET /api/backup", 404, 2*time.Second)
	r.Observe("GET /api/backup", 404, 500*time.Second) // past the last bucket

	_, s := render(t, r)
	post := []string{"method", "POST", "route", "/api/backup"}
	get := []string{"method", "GET", "route", "/api/backup"}
	if v := value(t, s, "dailyreps_http_requests_total", append(post, "status", "200")...); v != 2 {
		t.Errorf("POST 200 = %v, want 2", v)
	}
	if v := value(t, s, "dailyreps_http_requests_total", append(post, "status", "429")...); v != 1 {
		t.Errorf("POST 429 = %v, want 1", v)
	}
	if v := value(t, s, "dailyreps_http_requests_total", append(get, "status", "404")...); v != 2 {
		t.Errorf("GET 404 = %v, want 2", v)
	}

	// Buckets are cumulative and end with +Inf = count.
	bucket := func(labels []string, le string) float64 {
		return value(t, s, "dailyreps_http_request_duration_seconds_bucket", append(labels, "le", le)...)
	}
	for le, want := range map[string]float64{"0.005": 2, "0.05": 2, "0.1": 3, "+Inf": 3} {
		if got := bucket(post, le); got != want {
			t.Errorf("POST bucket le=%s = %v, want %v", le, got, want)
		}
	}
	for le, want := range map[string]float64{"1": 0, "2.5": 1, "120": 1, "+Inf": 2} {
		if got := bucket(get, le); got != want {
			t.Errorf("GET bucket le=%s = %v, want %v", le, got, want)
		}
	}
	if v := value(t, s, "dailyreps_http_request_duration_seconds_count", post...); v != 3 {
		t.Errorf("POST count = %v", v)
	}
	if v := value(t, s, "dailyreps_http_request_duration_seconds_sum", post...); math.Abs(v-0.074) > 1e-9 {
		t.Errorf("POST sum = %v, want 0.074", v)
	}

	if v := value(t, s, "dailyreps_http_refusals_total", "reason", "rate_limited"); v != 1 {
		t.Errorf("rate_limited = %v", v)
	}
	if v := value(t, s, "dailyreps_http_refusals_total", "reason", "not_found"); v != 2 {
		t.Errorf("not_found = %v", v)
	}
	if v := value(t, s, "dailyreps_build_info", "version", "1.2.3"); v != 1 {
		t.Errorf("build_info = %v", v)
	}
	if _, ok := metricstest.Value(s, "dailyreps_store_up"); ok {
		t.Error("store totals reported without a store")
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
	text, s := render(t, r)
	if strings.Contains(strings.ToLower(text), secret) {
		t.Fatalf("a label carries the input:\n%s", text)
	}
	if v := value(t, s, "dailyreps_http_requests_total", "route", "other", "status", "200"); v != 6 {
		t.Errorf("other = %v, want 6", v)
	}
	if v := value(t, s, "dailyreps_http_requests_total", "route", "/api/backup", "status", "0"); v != 1 {
		t.Errorf("an impossible status is not folded into 0: %v", v)
	}
	// Escaped label values read back as they were given.
	if v := value(t, s, "dailyreps_build_info", "version", "v\"1\\\n"); v != 1 {
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

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestStoreTotalsAreCached(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var reads atomic.Int64
	var fail atomic.Bool
	stats := func(context.Context) (store.Stats, error) {
		n := reads.Add(1)
		if fail.Load() {
			return store.Stats{}, errors.New("database down")
		}
		return store.Stats{Users: n, Backups: 2 * n, Versions: 3 * n, StoredBytes: 1000 * n}, nil
	}
	r := metrics.New(metrics.Options{Stats: stats, StatsTTL: 10 * time.Second, Now: clock.Now})

	_, s := render(t, r)
	if value(t, s, "dailyreps_users") != 1 || value(t, s, "dailyreps_backups") != 2 ||
		value(t, s, "dailyreps_backup_versions") != 3 || value(t, s, "dailyreps_stored_bytes") != 1000 ||
		value(t, s, "dailyreps_store_up") != 1 {
		t.Fatalf("totals: %+v", s)
	}
	clock.Advance(9 * time.Second)
	render(t, r)
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads inside the TTL, want 1", n)
	}
	clock.Advance(time.Second)
	if _, s = render(t, r); value(t, s, "dailyreps_users") != 2 {
		t.Fatalf("totals not refreshed after the TTL (%d reads)", reads.Load())
	}

	// A failure leaves the totals out, and is cached as well.
	fail.Store(true)
	clock.Advance(10 * time.Second)
	_, s = render(t, r)
	if value(t, s, "dailyreps_store_up") != 0 {
		t.Fatal("store_up is not 0 after a failed read")
	}
	if _, ok := metricstest.Value(s, "dailyreps_users"); ok {
		t.Fatal("stale totals reported after a failed read")
	}
	render(t, r)
	if n := reads.Load(); n != 3 {
		t.Fatalf("%d reads, want 3 (a failure is cached too)", n)
	}
}

// Scrapes that arrive while the totals are being read wait for that read
// rather than sending their own.
func TestConcurrentScrapesShareOneRead(t *testing.T) {
	release := make(chan struct{})
	var reads atomic.Int64
	r := metrics.New(metrics.Options{Stats: func(context.Context) (store.Stats, error) {
		reads.Add(1)
		<-release
		return store.Stats{Users: 7}, nil
	}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.Render(context.Background(), &bytes.Buffer{})
		}()
	}
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads for 8 concurrent scrapes, want 1", n)
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
