package hooks

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// SecurityHeaders marks every API response as private and not sniffable.
// HSTS is added on TLS connections (and behind a proxy that says so).
func SecurityHeaders() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdSecurityHeaders,
		Priority: PrioritySecurityHeaders,
		Func: func(e *core.RequestEvent) error {
			h := e.Response.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			if e.Request.TLS != nil {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			return e.Next()
		},
	}
}
