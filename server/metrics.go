package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/metrics"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/store"
)

// metricsEndpoint returns the GET /metrics handler and the observer that
// feeds it. Without DAILYREPS_METRICS_TOKEN both are nil: nothing is counted
// and /metrics answers 404 as if it did not exist. With it, a request without
// the token is 401, so that a misconfigured scraper is easy to tell apart
// from a wrong URL; the token is long and random, so the 401 gives nothing
// away.
func metricsEndpoint(cfg config.Config, st store.Store, now func() time.Time, logger func() *slog.Logger) (func(*core.RequestEvent) error, hooks.Observer) {
	if cfg.MetricsToken == "" {
		return nil, nil
	}
	reg := metrics.New(metrics.Options{
		Version: routes.Version,
		Now:     now,
		Stats: func(ctx context.Context) (store.Stats, error) {
			s, err := st.Stats(ctx)
			if err != nil {
				logger().Warn("reading the store's totals for /metrics failed", "error", err.Error())
			}
			return s, err
		},
	})
	serve := func(e *core.RequestEvent) error {
		if !metrics.Authorized(e.Request.Header.Get("Authorization"), cfg.MetricsToken) {
			e.Response.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return hooks.Fail(http.StatusUnauthorized, "A valid metrics token is required (Authorization: Bearer).")
		}
		var b bytes.Buffer
		if err := reg.Render(e.Request.Context(), &b); err != nil {
			return err
		}
		e.Response.Header().Set("Content-Type", metrics.ContentType)
		e.Response.WriteHeader(http.StatusOK)
		if e.Request.Method == http.MethodHead {
			return nil
		}
		_, err := e.Response.Write(b.Bytes())
		return err
	}
	return serve, reg.Observe
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
