// Package server wires the application into a PocketBase app: Register is
// the one seam that main and the tests both call, so tests exercise the real
// wiring.
package server

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/dailyreps/backup/activity"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/usage"
)

// Options adjust Register for tests and embedding.
type Options struct {
	Public  fs.FS            // the web client, served at /; nil: none
	Now     func() time.Time // nil: time.Now
	Observe hooks.Observer   // an extra per-request observer (tests); /metrics has its own
	// FreeDisk replaces the statfs behind /health's disk check (tests).
	FreeDisk func(path string) (uint64, error)
	// Console receives start-up warnings for the operator; nil: os.Stderr.
	Console io.Writer
	// LogOutput receives every log line as JSON, one per line; nil: os.Stdout.
	LogOutput io.Writer
}

func (o Options) console() io.Writer {
	if o.Console == nil {
		return os.Stderr
	}
	return o.Console
}

// Register binds the application to app: storage opens and the routes mount
// when the app serves.
func Register(app core.App, cfg config.Config, opts Options) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Standard output gathers lines for a moment (see lineWriter); a writer
	// of the caller's gets each line as it is logged.
	out := newLineWriter(opts.LogOutput, 0)
	if opts.LogOutput == nil {
		out = newLineWriter(os.Stdout, stdoutDelay)
	}
	logger := leveled(app, cfg.LogLevel, out)
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id:       "drLogDirect",
		Priority: -10001, // before the shutdown, whose lines are then written at once
		Func: func(te *core.TerminateEvent) error {
			_ = out.Direct()
			return te.Next()
		},
	})

	// The pepper file (and a rotation's pending one) sits in the data
	// directory but must never travel with PocketBase's backup archives, nor
	// be replaced by a restore.
	exclude := func(e *core.BackupEvent) error {
		e.Exclude = append(e.Exclude, pepper.FileName, pepper.FileName+pepper.PendingSuffix)
		return e.Next()
	}
	app.OnBackupCreate().BindFunc(exclude)
	app.OnBackupRestore().BindFunc(exclude)
	bindDashboardCleanup(app)

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "drServe",
		Func: func(se *core.ServeEvent) error {
			if err := applyBackupDefaults(se.App, logger); err != nil {
				return err
			}
			if err := applyRateLimitDefaults(se.App, logger); err != nil {
				return err
			}
			deps, figures, closeAll, err := open(se.App, cfg, logger, opts)
			if err != nil {
				return err
			}
			bindDashboard(se, deps.Store, figures, cfg.DatabaseURL != "")
			// No placeholder admin and no browser on the first start.
			se.InstallerFunc = nil
			tuneServer(se.Server, cfg)
			hardenTLS(se.Server.TLSConfig)
			bindShutdown(se, cfg, closeAll, logger)
			if len(cfg.HMACSecret) == 0 {
				const msg = "DAILYREPS_HMAC_SECRET is not set: requests are not signed (see README, 'Signed requests')"
				logger().Warn(msg)
				// The log goes to the dashboard; the operator starting the
				// server reads the console.
				fmt.Fprintln(opts.console(), "Warning:", msg)
			}

			se.Router.Bind(hooks.RedactQuery(), hooks.RedactLoggedURL(), hooks.HSTS(cfg.TrustedProxyHeader != ""))
			// PocketBase's serve allows every origin on every route; the API's
			// origin policy replaces it everywhere, PocketBase's routes and
			// the 404s of unknown paths included.
			se.Router.Unbind(apis.DefaultCorsMiddlewareId)
			se.Router.Bind(hooks.CORS(cfg.AllowedOrigins, cfg.PublicURLs))
			routes.Mount(se.Router, deps)
			if opts.Public != nil {
				se.Router.GET("/{path...}", apis.Static(opts.Public, true)).BindFunc(guardAPI)
			}
			return se.Next()
		},
	})
	// Last of the serve hooks, when the listener (ours or a test's) is known
	// and just before PocketBase builds the router and starts serving.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "drListener",
		Priority: 1 << 20,
		Func: func(se *core.ServeEvent) error {
			if err := limitListener(se, cfg); err != nil {
				return err
			}
			err := se.Next()
			if se.Server.Handler != nil {
				se.Server.Handler = rejectUncleanPaths(se.Server.Handler)
			}
			return err
		},
	})
}

// limitListener opens the listener PocketBase would (unless one is set) and
// caps the connections per client address on it. Behind a trusted proxy
// every connection comes from the proxy, so the cap is left to the proxy.
func limitListener(se *core.ServeEvent, cfg config.Config) error {
	if cfg.MaxConnsPerIP <= 0 || cfg.TrustedProxyHeader != "" {
		return nil
	}
	if se.Listener == nil {
		addr := se.Server.Addr
		if addr == "" {
			addr = ":http"
			if se.Server.TLSConfig != nil {
				addr = ":https"
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		se.Listener = l
	}
	se.Listener = limitConns(se.Listener, cfg.MaxConnsPerIP)
	return nil
}

// open loads the pepper and the store and checks that they belong together.
func open(app core.App, cfg config.Config, logger func() *slog.Logger, opts Options) (routes.Deps, *usage.Cache, func(), error) {
	st, p, err := OpenStore(context.Background(), app, cfg)
	if err != nil {
		return routes.Deps{}, nil, nil, err
	}
	events := activity.New(st, time.Second, logger)
	tally := usage.NewTally(st, opts.Now, 0, logger)
	events.Tap(func(kind string) {
		if kind == store.EventFailedAttempt {
			tally.FailedAttempt()
		}
	})
	figures := usageFigures(st, events, tally, opts.Now, logger)
	stopPrune := startPruning(st, opts.Now, logger)
	freeDisk := opts.FreeDisk
	if freeDisk == nil {
		freeDisk = statfsFree
	}
	metricsGet, observe := metricsEndpoint(cfg, figures, opts.Now, app.DataDir(), freeDisk)
	// Terminate hooks can fire more than once (a signal, then a cleanup).
	closeAll := sync.OnceFunc(func() {
		stopPrune()
		events.Close()
		tally.Close()
		_ = st.Close()
	})
	return routes.Deps{
		Config: cfg, Store: st, Pepper: p, Events: events, Now: opts.Now, Logger: logger,
		Observe: observers(observe, tally.Observe, opts.Observe), Metrics: metricsGet, DataDir: app.DataDir(), FreeDisk: opts.FreeDisk,
	}, figures, closeAll, nil
}

// tuneServer replaces PocketBase's generous timeouts (minutes, for file
// uploads) with the configured ones, sized by default for 5 MiB uploads from
// slow phones, so that slow or stalled clients cannot hold connections for
// long.
func tuneServer(s *http.Server, cfg config.Config) {
	s.ReadHeaderTimeout = cfg.ReadHeaderTimeout
	s.ReadTimeout = cfg.ReadTimeout
	s.WriteTimeout = cfg.WriteTimeout
	s.IdleTimeout = cfg.IdleTimeout
	s.MaxHeaderBytes = 64 << 10
}

// bindShutdown lets in-flight requests finish, up to the configured
// deadline, before PocketBase's own handler (which waits one second) runs,
// and closes the store after it.
//
// Requests get a base context of ours: apis.Serve cancels its own as soon as
// Serve returns, which is the moment a shutdown starts, and every request in
// flight would lose its database calls. Ours is cancelled only once the
// deadline has passed.
//
// A restart (after a restore from the dashboard) is left to PocketBase: it
// keeps Serve from returning until the process has re-executed itself, and a
// shutdown of ours first would let the process exit instead.
func bindShutdown(se *core.ServeEvent, cfg config.Config, closeAll func(), logger func() *slog.Logger) {
	srv := se.Server
	base, cancelBase := context.WithCancel(context.Background())
	srv.BaseContext = func(net.Listener) context.Context { return base }
	se.App.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id:       "drGracefulShutdown",
		Priority: -10000,
		Func: func(te *core.TerminateEvent) error {
			if te.IsRestart {
				return te.Next()
			}
			// Realtime streams (the dashboard's) never end by themselves:
			// closing their clients ends them, so they do not hold the
			// shutdown to its deadline.
			for _, c := range te.App.SubscriptionsBroker().Clients() {
				c.Discard()
			}
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				logger().Warn("shutdown deadline passed with requests in flight", "error", err.Error())
			}
			return te.Next()
		},
	})
	// After PocketBase's own graceful shutdown (priority -9999).
	se.App.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id:       "drCloseStore",
		Priority: -9998,
		Func: func(te *core.TerminateEvent) error {
			cancelBase()
			closeAll()
			return te.Next()
		},
	})
}

// guardAPI keeps unknown /api/ paths from falling back to index.html.
func guardAPI(e *core.RequestEvent) error {
	if strings.HasPrefix(e.Request.URL.Path, "/api/") || e.Request.URL.Path == "/api" {
		return e.NotFoundError("", nil)
	}
	return e.Next()
}

func startPruning(st interface {
	Prune(context.Context, time.Time) error
}, now func() time.Time, logger func() *slog.Logger) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := st.Prune(context.Background(), now()); err != nil {
					logger().Warn("pruning expired records failed", "error", err.Error())
				}
			}
		}
	}()
	return func() { close(done) }
}

// leveled is the server's logger, filtered by DAILYREPS_LOG_LEVEL, writing
// JSON lines to out and, through a sink of its own (see logsink.go), what an
// admin acts on into PocketBase's log table (see logroute.go).
func leveled(app core.App, level string, out *lineWriter) func() *slog.Logger {
	var min slog.Level
	_ = min.UnmarshalText([]byte(level))
	l := slog.New(levelFilter{newLogRouter(out, newLogSink(app)), min})
	return func() *slog.Logger { return l }
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

func (l levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{l.Handler.WithAttrs(a), l.min}
}

func (l levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{l.Handler.WithGroup(n), l.min}
}
