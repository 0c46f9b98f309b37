package hooks

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// CORS answers for the API's own origin policy, in place of PocketBase's
// allow-everything default: the server's own origin (the page it serves) and
// the operator's allowlist. A foreign origin gets no Access-Control-Allow-Origin,
// and a state-changing request from it is refused outright (403), not merely
// hidden from the page: a hidden response would still have changed data.
func CORS(allowed []string) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdCORS,
		Priority: PriorityCORS,
		Func: func(e *core.RequestEvent) error {
			h := e.Response.Header()
			h.Add("Vary", "Origin")
			origin := e.Request.Header.Get("Origin")
			preflight := e.Request.Method == http.MethodOptions && e.Request.Header.Get("Access-Control-Request-Method") != ""
			if origin == "" {
				return e.Next() // not a browser's cross-origin request
			}
			ok := sameOrigin(origin, e.Request.Host) || slices.Contains(allowed, strings.ToLower(origin))
			if !ok {
				if preflight || isStateChanging(e.Request.Method) {
					return Fail(http.StatusForbidden, "This origin is not allowed to use this server.")
				}
				return e.Next()
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, X-Server-Time, X-Request-Id")
			if preflight {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers",
					"Content-Type, X-Timestamp, X-Signature, If-Match, If-None-Match, X-Invite-Code, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				e.Response.WriteHeader(http.StatusNoContent)
				return nil
			}
			return e.Next()
		},
	}
}

// sameOrigin compares hosts only: behind a TLS-terminating proxy the page's
// scheme (https) differs from the request's (http).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
