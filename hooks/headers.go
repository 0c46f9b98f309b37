package hooks

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// SecurityHeaders marks every API response as private and not sniffable.
func SecurityHeaders() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdSecurityHeaders,
		Priority: PrioritySecurityHeaders,
		Func: func(e *core.RequestEvent) error {
			h := e.Response.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			return e.Next()
		},
	}
}

// HSTS values: two years, the usual value for a site that means to stay on
// HTTPS. Not "preload": submitting a domain to the browsers' preload list is
// the operator's decision.
const (
	IdHSTS       = "drHSTS"
	PriorityHSTS = -1095
	hstsValue    = "max-age=63072000; includeSubDomains"
)

// HSTS sends Strict-Transport-Security on every HTTPS response, pages and
// API alike, so that a browser that has reached the server once never sends
// a userId or storageKey over plain HTTP to it again. It is bound
// router-wide.
//
// When TLS ends at a proxy (Fly.io's edge), the connection here is plain and
// the proxy's X-Forwarded-Proto tells the scheme; it is believed only when
// the operator has said a proxy is in front (behindProxy). A forged header
// cannot do harm: browsers ignore HSTS received over plain HTTP.
func HSTS(behindProxy bool) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdHSTS,
		Priority: PriorityHSTS,
		Func: func(e *core.RequestEvent) error {
			if e.Request.TLS != nil || behindProxy && forwardedHTTPS(e.Request.Header.Get("X-Forwarded-Proto")) {
				e.Response.Header().Set("Strict-Transport-Security", hstsValue)
			}
			return e.Next()
		},
	}
}

// forwardedHTTPS reads the scheme the nearest proxy saw: the last entry
// when proxies have appended to the header.
func forwardedHTTPS(v string) bool {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(v), "https")
}
