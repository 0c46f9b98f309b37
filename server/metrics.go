package server

import (
	"context"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/activity"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/metrics"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/usage"
)

// usageFigures is the cache of the store's figures that /metrics and the
// dashboard's stats collection share. Before reading the store it writes
// this instance's pending events and counters, so that the figures include
// everything this instance has seen.
func usageFigures(st store.Store, events *activity.Recorder, tally *usage.Tally, now func() time.Time, logger func() *slog.Logger) *usage.Cache {
	return usage.NewCache(func(ctx context.Context, at time.Time) (store.Stats, error) {
		_ = events.Flush(ctx) // a failure is the store's, and shows in the read below
		_ = tally.Flush(ctx)
		s, err := st.Stats(ctx, at)
		if err != nil {
			logger().Warn("reading the store's figures failed", "error", err.Error())
		}
		return s, err
	}, usage.DefaultTTL, now)
}

// metricsEndpoint returns the GET /metrics handler and the observer that
// feeds it. Without DAILYREPS_METRICS_TOKEN both are nil: nothing is counted
// and /metrics answers 404 as if it did not exist. With it, a request without
// the token is 401, so that a misconfigured scraper is easy to tell apart
// from a wrong URL; the token is long and random, so the 401 gives nothing
// away.
func metricsEndpoint(cfg config.Config, figures *usage.Cache, now func() time.Time, dataDir string,
	freeDisk func(string) (uint64, error)) (func(*core.RequestEvent) error, hooks.Observer) {
	if cfg.MetricsToken == "" {
		return nil, nil
	}
	reg := metrics.New(metrics.Options{
		Version:     routes.Version,
		Now:         now,
		FreeDisk:    func() (uint64, error) { return freeDisk(dataDir) },
		MinFreeDisk: cfg.MinFreeDiskBytes,
		Gauges: func(ctx context.Context) ([]metrics.Gauge, error) {
			st, err := figures.Get(ctx)
			if err != nil {
				return nil, err
			}
			var out []metrics.Gauge
			for _, f := range usage.Figures(st) {
				if f.Metric != "" && !f.Withheld {
					out = append(out, metrics.Gauge{Name: f.Metric, Help: f.Help, Label: f.Label, LabelValue: f.LabelValue, Value: f.Value})
				}
			}
			return out, nil
		},
	})
	handler := reg.Handler()
	serve := func(e *core.RequestEvent) error {
		if !metrics.Authorized(e.Request.Header.Get("Authorization"), cfg.MetricsToken) {
			e.Response.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return hooks.Fail(http.StatusUnauthorized, "A valid metrics token is required (Authorization: Bearer).")
		}
		handler.ServeHTTP(e.Response, e.Request)
		return nil
	}
	return serve, reg.Observe
}

// statfsFree is the free space of path's disk for an unprivileged writer.
func statfsFree(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// observers calls each non-nil observer in turn; nil when there is none.
func observers(list ...hooks.Observer) hooks.Observer {
	var set []hooks.Observer
	for _, o := range list {
		if o != nil {
			set = append(set, o)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return set[0]
	}
	return func(route string, status int, took time.Duration) {
		for _, o := range set {
			o(route, status, took)
		}
	}
}
