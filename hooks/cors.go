package hooks

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// CORS answers for the API's own origin policy, in place of PocketBase's
// allow-everything default: the server's own origin (the page it serves: the
// configured public origins, or a loopback one when none is configured) and
// the operator's allowlist. A foreign origin gets no Access-Control-Allow-Origin,
// and a state-changing request from it is refused outright (403), not merely
// hidden from the page: a hidden response would still have changed data.
func CORS(allowed, public []string) *hook.Handler[*core.RequestEvent] {
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
			ok := ownOrigin(origin, e.Request.Host, public) || slices.Contains(allowed, strings.ToLower(origin))
			if !ok {
				if preflight || isStateChanging(e.Request.Method) {
					return Fail(http.StatusForbidden, "This origin is not allowed to use this server.")
				}
				return e.Next()
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, X-Server-Time, X-Request-Id")
			if preflight {
				// PUT and Authorization: protocol v2's saves and sessions.
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
				h.Set("Access-Control-Allow-Headers",
					"Content-Type, Authorization, X-Timestamp, X-Signature, If-Match, If-None-Match, X-Invite-Code, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				e.Response.WriteHeader(http.StatusNoContent)
				return nil
			}
			return e.Next()
		},
	}
}

// ownOrigin reports whether origin is the server's own page. The Host header
// cannot say so: a DNS-rebinding page sends its own name as Host and Origin
// alike. So it is one of the configured public origins
// (DAILYREPS_PUBLIC_URL), or, when none is configured, a loopback origin
// naming the host and port the request was sent to (either scheme, since a
// TLS-terminating proxy changes it).
func ownOrigin(origin, host string, public []string) bool {
	if len(public) > 0 {
		return slices.Contains(public, strings.ToLower(origin))
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, host) {
		return false
	}
	name := u.Hostname()
	if strings.EqualFold(name, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Unmap().IsLoopback()
}
