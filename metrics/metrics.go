// Package metrics counts the API's requests and serves them, with the Go
// runtime's and the process's collectors and the service's usage figures,
// through the Prometheus client library.
//
// Labels are the route pattern, the status, a refusal reason and the fixed
// labels of the usage figures: never an id, a key, a client address or
// anything else a client sent, and never one per user.
package metrics

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Buckets are the latency histogram's upper bounds in seconds: most requests
// take milliseconds, but a 5 MiB upload from a phone can take a minute.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Gauge is one sample of the store's figures: a name, at most one label
// from a fixed set, and a value.
type Gauge struct {
	Name, Help        string
	Label, LabelValue string
	Value             float64
}

// Options configure a Registry.
type Options struct {
	Version string           // reported by dailyreps_build_info
	Now     func() time.Time // nil: time.Now
	// Gauges reads the store's figures (cached by the caller); nil: not
	// reported. An error sets dailyreps_store_up to 0 and leaves them out.
	Gauges func(context.Context) ([]Gauge, error)
	// FreeDisk reads the free bytes of the data directory's disk; nil: not
	// reported. MinFreeDisk is /health's threshold, reported beside it.
	FreeDisk    func() (uint64, error)
	MinFreeDisk int64
}

// Registry holds the collectors. It is safe for concurrent use.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	refusals *prometheus.CounterVec
}

// New returns a registry with the Go runtime and process collectors.
func New(o Options) *Registry {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dailyreps_http_requests_total", Help: "API requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dailyreps_http_request_duration_seconds", Help: "API request latency by route.", Buckets: Buckets,
		}, []string{"method", "route"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dailyreps_http_refusals_total",
			Help: "Refused API requests by reason: invalid (400), bad_signature (401), forbidden (403), not_found (404), " +
				"method_not_allowed (405), conflict (409), stale_version (412), too_large (413), unsupported_media_type (415), " +
				"rate_limited (429), unavailable (503), storage_full (507), other_client_error.",
		}, []string{"reason"}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dailyreps_build_info", Help: "The running version, as a label.",
	}, []string{"version"})
	buildInfo.WithLabelValues(o.Version).Set(1)
	start := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dailyreps_start_time_seconds", Help: "When the server started, in Unix seconds.",
	})
	start.Set(float64(o.Now().UnixMilli()) / 1000)
	r.reg.MustRegister(r.requests, r.latency, r.refusals, buildInfo, start,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.FreeDisk != nil {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dailyreps_free_disk_bytes", Help: "Free bytes on the data directory's disk (NaN when unreadable).",
		}, func() float64 {
			free, err := o.FreeDisk()
			if err != nil {
				return math.NaN()
			}
			return float64(free)
		}))
		minFree := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dailyreps_min_free_disk_bytes", Help: "The free disk below which /health fails (DAILYREPS_MIN_FREE_DISK_BYTES).",
		})
		minFree.Set(float64(o.MinFreeDisk))
		r.reg.MustRegister(minFree)
	}
	if o.Gauges != nil {
		r.reg.MustRegister(&storeCollector{read: o.Gauges})
	}
	return r
}

// Handler serves the exposition; errors of one collector are reported in
// the log rather than failing the scrape.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer is the registry, for tests and embedding.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Observe records one finished request. pattern is the route pattern the
// request matched ("POST /api/backup"); it has the signature of
// hooks.Observer.
func (r *Registry) Observe(pattern string, status int, took time.Duration) {
	method, route := splitPattern(pattern)
	if status < 100 || status > 599 {
		status = 0
	}
	r.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	r.latency.WithLabelValues(method, route).Observe(took.Seconds())
	if reason := Reason(status); reason != "" {
		r.refusals.WithLabelValues(reason).Inc()
	}
}

// storeCollector reports the store's figures at each scrape. It is
// unchecked (it describes nothing up front) because the refusal reasons seen
// today, and so the label values, vary.
type storeCollector struct {
	read func(context.Context) ([]Gauge, error)
}

var storeUp = prometheus.NewDesc("dailyreps_store_up", "1 when the last read of the store's figures succeeded.", nil, nil)

func (c *storeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	gauges, err := c.read(context.Background())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 1)
	for _, g := range gauges {
		var labels []string
		var values []string
		if g.Label != "" {
			labels, values = []string{g.Label}, []string{g.LabelValue}
		}
		desc := prometheus.NewDesc(g.Name, g.Help, labels, nil)
		m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, g.Value, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
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
