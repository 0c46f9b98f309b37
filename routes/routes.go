// Package routes is the API: one function (Mount) lists every route with the
// middlewares it runs, and one file per endpoint holds its handler:
// bind -> validate -> act -> respond. Policy lives in the middlewares (package
// hooks) and the store; handlers hold none of their own.
package routes

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/dailyreps/backup/activity"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/limiter"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/store"
)

// Version is the server version reported by /api/info.
var Version = "dev"

// Deps is everything the handlers use.
type Deps struct {
	Config   config.Config
	Store    store.Store
	Pepper   *pepper.Pepper
	Events   *activity.Recorder
	Now      func() time.Time
	Logger   func() *slog.Logger
	Observe  hooks.Observer
	DataDir  string                            // for the free-disk check of /health
	FreeDisk func(path string) (uint64, error) // nil: the real statfs
	Metrics  func(*core.RequestEvent) error    // GET /metrics, checking its own token; nil: 404
}

type handlers struct {
	Deps
	ipBuckets       *limiter.Keyed
	registerBuckets *limiter.Keyed
	failedLookups   *limiter.Keyed
}

// bucketBound is how many client addresses each in-memory limiter tracks.
const bucketBound = 100_000

// Mount adds the API to r.
func Mount(r *router.Router[*core.RequestEvent], d Deps) {
	c := d.Config
	h := &handlers{
		Deps:          d,
		ipBuckets:     limiter.New(c.IPBurst, c.IPRefill, bucketBound, d.Now),
		failedLookups: limiter.New(c.FailedLookupBurst, c.FailedLookupRefill, bucketBound, d.Now),
	}
	if c.RegisterPerHour > 0 {
		h.registerBuckets = limiter.New(c.RegisterPerHour, time.Hour/time.Duration(c.RegisterPerHour), bucketBound, d.Now)
	}

	// Every response under our paths, errors included, comes from this group.
	api := r.Group("")
	api.Bind(
		hooks.AccessLog(d.Logger, d.Observe),
		hooks.ErrorShape(func(msg string, args ...any) { d.Logger().Error(msg, args...) }),
		hooks.SecurityHeaders(),
		hooks.ClientIPResolver(c.TrustedProxyHeader),
	) // the origin policy (hooks.CORS) is bound router-wide, by package server

	limited := api.Group("")
	limited.Bind(hooks.IPLimit(h.ipBuckets), hooks.Signature(hooks.SignatureConfig{
		Secret: c.HMACSecret, Window: c.SignatureWindow, Now: d.Now, UseNonce: h.useNonce,
		InTransaction: savesBackup,
	}))
	memory := hooks.NewMemory(c.MaxBodyMemory) // one budget for every route's bodies
	paced := func(l hooks.BodyLimits) hooks.BodyLimits {
		l.Memory, l.MinRate, l.Grace, l.ReadTimeout = memory, c.MinUploadRate, c.UploadGrace, c.ReadTimeout
		return l
	}
	body := hooks.ReadBody(paced(hooks.BodyLimits{MaxBytes: maxBodyBytes(c.MaxBackupBytes),
		Large: hooks.NewSlots(c.MaxLargeUploads), LargeBytes: 1 << 20}))
	small := hooks.ReadBody(paced(hooks.BodyLimits{MaxBytes: 4 << 10}))

	registerLimit := hooks.RouteLimit("drRegisterLimit", hooks.PriorityRouteLimit, h.registerBuckets,
		"Too many registrations from this address.")

	route(api, limited, "/api/register", map[string]endpoint{http.MethodPost: do(h.userRegister, registerLimit, small)})
	route(api, limited, "/api/backup", map[string]endpoint{
		http.MethodPost: do(h.backupSave, body),
		http.MethodGet:  do(h.backupGet),
	})
	route(api, limited, "/api/backup/versions", map[string]endpoint{http.MethodGet: do(h.backupVersions)})
	route(api, limited, "/api/backup/activity", map[string]endpoint{http.MethodGet: do(h.backupActivity)})
	route(api, limited, "/api/usage", map[string]endpoint{http.MethodGet: do(h.usageGet)})
	route(api, limited, "/api/user", map[string]endpoint{http.MethodDelete: do(h.userDelete, small)})
	// Protocol v2 (docs/protocol-v2.md). The routes that sign in pay the
	// same budgets as v1's; the others need a session.
	signedIn := h.session()
	route(api, limited, "/api/v2/prelogin", map[string]endpoint{http.MethodPost: do(h.v2Prelogin, small)})
	route(api, limited, "/api/v2/register", map[string]endpoint{http.MethodPost: do(h.v2Register, registerLimit, small)})
	route(api, limited, "/api/v2/login", map[string]endpoint{http.MethodPost: do(h.v2Login, small)})
	route(api, limited, "/api/v2/logout", map[string]endpoint{http.MethodPost: do(h.v2Logout, signedIn)})
	route(api, limited, "/api/v2/password", map[string]endpoint{http.MethodPost: do(h.v2Password, small, signedIn)})
	route(api, limited, "/api/v2/recover", map[string]endpoint{http.MethodPost: do(h.v2Recover, small)})
	route(api, limited, "/api/v2/recover/key", map[string]endpoint{http.MethodPost: do(h.v2RecoverKey, small)})
	route(api, limited, "/api/v2/upgrade", map[string]endpoint{http.MethodPost: do(h.v2Upgrade, small)})
	route(api, limited, "/api/v2/backups", map[string]endpoint{http.MethodGet: do(h.v2BackupsList, signedIn)})
	route(api, limited, "/api/v2/backups/{id}", map[string]endpoint{
		http.MethodPut:    do(h.v2BackupPut, body, signedIn),
		http.MethodGet:    do(h.v2BackupGet, signedIn),
		http.MethodDelete: do(h.v2BackupDelete, signedIn),
	})
	route(api, limited, "/api/v2/backups/{id}/versions", map[string]endpoint{http.MethodGet: do(h.v2BackupVersions, signedIn)})
	route(api, limited, "/api/v2/account", map[string]endpoint{
		http.MethodGet:    do(h.v2AccountGet, signedIn),
		http.MethodDelete: do(h.v2AccountDelete, small, signedIn),
	})
	route(api, api, "/api/info", map[string]endpoint{http.MethodGet: do(h.infoGet)})
	route(api, api, "/health", map[string]endpoint{http.MethodGet: do(h.healthGet)})
	// Mounted even when off, so that /metrics is a 404 rather than the web page.
	metricsGet := d.Metrics
	if metricsGet == nil {
		metricsGet = func(*core.RequestEvent) error { return hooks.Fail(http.StatusNotFound, "Not found.") }
	}
	route(api, api, "/metrics", map[string]endpoint{http.MethodGet: do(metricsGet)})

	// PocketBase's CORS (allow-all), its request log (full URIs and client
	// addresses), its auth-token loader (a database read), its rate limiter
	// and body limit are replaced by ours. Unbind reaches only the routes
	// that exist when it is called, so it comes last.
	api.Unbind(apis.DefaultCorsMiddlewareId, apis.DefaultActivityLoggerMiddlewareId,
		apis.DefaultLoadAuthTokenMiddlewareId, apis.DefaultRateLimitMiddlewareId, apis.DefaultBodyLimitMiddlewareId)
}

// endpoint is an action and the route-specific middlewares it runs behind.
type endpoint struct {
	action func(*core.RequestEvent) error
	mw     []*hook.Handler[*core.RequestEvent]
}

func do(action func(*core.RequestEvent) error, mw ...*hook.Handler[*core.RequestEvent]) endpoint {
	return endpoint{action, mw}
}

// route registers path's methods on group, an OPTIONS answer (the CORS
// middleware answers preflights before it), and a 405 in the API's error
// shape for the other standard methods (PocketBase's router would answer 404
// in its own). A method-less pattern would be simpler but conflicts with the
// static files' "GET /{path...}" in net/http's mux.
func route(api, group *router.RouterGroup[*core.RequestEvent], path string, methods map[string]endpoint) {
	allow := []string{http.MethodOptions}
	for method, ep := range methods {
		group.Route(method, path, ep.action).Bind(ep.mw...)
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead) // net/http routes HEAD to GET
		}
	}
	allowed := strings.Join(allow, ", ")
	api.Route(http.MethodOptions, path, func(e *core.RequestEvent) error {
		e.Response.Header().Set("Allow", allowed)
		return e.NoContent(http.StatusNoContent)
	})
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodTrace} {
		if slices.Contains(allow, m) {
			continue
		}
		api.Route(m, path, func(e *core.RequestEvent) error {
			e.Response.Header().Set("Allow", allowed)
			return hooks.Fail(http.StatusMethodNotAllowed, "Method not allowed.")
		})
	}
}

// maxBodyBytes leaves room around data for the ids and JSON escaping.
func maxBodyBytes(maxData int64) int64 { return maxData + 64<<10 }

// savesBackup picks the requests whose replay record the save writes in its
// own transaction (backupSave). A delete, once in a backup's life, and the
// reads keep a commit of their own.
func savesBackup(e *core.RequestEvent) bool {
	switch e.Request.Method {
	case http.MethodPost:
		return e.Request.URL.Path == "/api/backup"
	case http.MethodPut:
		return strings.HasPrefix(e.Request.URL.Path, "/api/v2/backups/")
	}
	return false
}

// useNonce is the signature middleware's replay record, kept in the store so
// that instances sharing a database agree.
func (h *handlers) useNonce(e *core.RequestEvent, nonce string, expires time.Time) error {
	err := h.Store.UseNonce(e.Request.Context(), nonce, expires, h.Now())
	if err != nil && !errors.Is(err, store.ErrReplay) {
		return storeError(e, err)
	}
	return err
}
