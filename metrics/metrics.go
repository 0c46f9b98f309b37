// Package metrics counts the API's requests and renders them, with the
// store's totals, in the Prometheus text exposition format (version 0.0.4).
//
// It is small on purpose: a handful of counters and one histogram family do
// not justify the Prometheus client library and its dependencies. Labels are
// the route pattern, the status and a refusal reason, all drawn from fixed
// sets: never an id, a key, a client address or anything else a client sent.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dailyreps/backup/store"
)

// ContentType is the media type of the exposition.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Buckets are the latency histogram's upper bounds in seconds: most requests
// take milliseconds, but a 5 MiB upload from a phone can take a minute.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Options configure a Registry.
type Options struct {
	Version string                                     // reported by dailyreps_build_info
	Now     func() time.Time                           // nil: time.Now
	Stats   func(context.Context) (store.Stats, error) // the store's totals; nil: not reported
	// StatsTTL is how long totals are reused, so that frequent or concurrent
	// scrapes cost at most one query per TTL; 0 means DefaultStatsTTL.
	StatsTTL time.Duration
}

// DefaultStatsTTL is the default lifetime of the store's totals.
const DefaultStatsTTL = 15 * time.Second

// statsTimeout bounds one read of the totals.
const statsTimeout = 5 * time.Second

// Registry holds the counters. It is safe for concurrent use.
type Registry struct {
	version string
	started time.Time
	stats   *statsCache

	mu       sync.Mutex
	requests map[requestKey]uint64
	latency  map[routeKey]*histogram
	refusals map[string]uint64
}

type routeKey struct{ method, route string }

type requestKey struct {
	routeKey
	status int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	sum    float64
	count  uint64
}

// New returns an empty registry.
func New(o Options) *Registry {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StatsTTL <= 0 {
		o.StatsTTL = DefaultStatsTTL
	}
	r := &Registry{
		version:  o.Version,
		started:  o.Now(),
		requests: map[requestKey]uint64{},
		latency:  map[routeKey]*histogram{},
		refusals: map[string]uint64{},
	}
	if o.Stats != nil {
		r.stats = &statsCache{fetch: o.Stats, ttl: o.StatsTTL, now: o.Now}
	}
	return r
}

// Observe records one finished request. pattern is the route pattern the
// request matched ("POST /api/backup"); it has the signature of
// hooks.Observer.
func (r *Registry) Observe(pattern string, status int, took time.Duration) {
	key := routeKey{}
	key.method, key.route = splitPattern(pattern)
	if status < 100 || status > 599 {
		status = 0
	}
	reason := Reason(status)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[requestKey{key, status}]++
	h := r.latency[key]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(Buckets)+1)}
		r.latency[key] = h
	}
	h.observe(took.Seconds())
	if reason != "" {
		r.refusals[reason]++
	}
}

func (h *histogram) observe(seconds float64) {
	i := 0
	for i < len(Buckets) && seconds > Buckets[i] {
		i++
	}
	h.counts[i]++
	h.sum += seconds
	h.count++
}

// splitPattern turns a net/http pattern into its method and path. Patterns
// come from the route table, but a label must stay a label whatever it is
// given: anything that is not a plain "METHOD /path" becomes "other".
func splitPattern(pattern string) (method, route string) {
	method, route, ok := strings.Cut(pattern, " ")
	if !ok || !isToken(method) || !isRoutePath(route) {
		return "", "other"
	}
	return method, route
}

func isToken(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isRoutePath(s string) bool {
	if !strings.HasPrefix(s, "/") || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("/-_.{}", c) >= 0) {
			return false
		}
	}
	return true
}

// Reason names why a request was refused, from its status; "" for a status
// that is not a refusal (success, redirect, 304, or a fault). A 401 is
// always a signature problem on the API (a wrong /metrics token too).
func Reason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusUnauthorized:
		return "bad_signature"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusPreconditionFailed:
		return "stale_version"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusInsufficientStorage:
		return "storage_full"
	}
	if status >= 400 && status < 500 {
		return "other_client_error"
	}
	return ""
}
