package hooks

import (
	"net/url"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// RedactQuery takes query strings that carry a userId or storageKey off the
// request before anything can log them: PocketBase's request log writes the
// full URI, query included, for every request, rejected ones too. It is bound
// router-wide, outside PocketBase's logger, so that no path (a typo, a wrong
// method, a trailing slash) can carry a key into a log. The handlers read the
// query back with Query.
func RedactQuery() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdRedactQuery,
		Priority: PriorityRedactQuery,
		Func: func(e *core.RequestEvent) error {
			raw := e.Request.URL.RawQuery
			if raw != "" && sensitive(raw) {
				e.Set(keyRawQuery, raw)
				e.Request.URL.RawQuery = ""
				e.Request.URL.ForceQuery = false
				e.Request.RequestURI = e.Request.URL.RequestURI()
			}
			return e.Next()
		},
	}
}

// sensitive reports whether the raw query names a secret, in any letter case
// and any escaping.
func sensitive(raw string) bool {
	s := strings.ToLower(raw)
	if u, err := url.QueryUnescape(s); err == nil {
		s = u
	}
	return strings.Contains(s, "userid") || strings.Contains(s, "storagekey")
}

// Query returns the request's query parameters, redacted or not.
func Query(e *core.RequestEvent) (url.Values, error) {
	return url.ParseQuery(RawQuery(e))
}

// RawQuery returns the request's raw query string, redacted or not.
func RawQuery(e *core.RequestEvent) string {
	if s, ok := e.Get(keyRawQuery).(string); ok {
		return s
	}
	return e.Request.URL.RawQuery
}
