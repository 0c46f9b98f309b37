package hooks

import (
	"net/url"
	"regexp"
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

// RedactLoggedURL masks, in what PocketBase's request log is about to record
// (the URL, raw and unescaped, and the Referer), every run of 32 or more hex
// digits or 40 or more base64url characters: a userId or storageKey, or most
// of one, or a session token, sent where it does not
// belong (in a path such as /api/backup/<userId>, under another parameter
// name, in the page address a browser sends as Referer), which RedactQuery
// cannot recognise by name. It runs just inside the logger, once the request
// was served, so that routing and handlers see the real URL. The API's own
// routes log no URL at all.
func RedactLoggedURL() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdRedactLoggedURL,
		Priority: PriorityRedactLoggedURL,
		Func: func(e *core.RequestEvent) error {
			err := e.Next()
			if uri := unescapeAll(e.Request.URL.RequestURI()); hexRuns.MatchString(uri) {
				// RequestURI returns an opaque URL as it is.
				e.Request.URL = &url.URL{Opaque: hexRuns.ReplaceAllString(uri, "[redacted]")}
			}
			if ref := unescapeAll(e.Request.Referer()); hexRuns.MatchString(ref) {
				e.Request.Header.Set("Referer", hexRuns.ReplaceAllString(ref, "[redacted]"))
			}
			return err
		},
	}
}

// hexRuns matches what could be (most of) an id, 64 hex digits, or a
// protocol v2 session token, 43 base64url characters: a token in a URL is
// a live login until it expires.
var hexRuns = regexp.MustCompile(`[0-9A-Za-z_-]{40,}|[0-9A-Fa-f]{32,}`)

// unescapeAll undoes percent-escaping, however often it was applied.
func unescapeAll(s string) string {
	for range 3 {
		u := unescapeLenient(s)
		if u == s {
			break
		}
		s = u
	}
	return s
}

// sensitive reports whether the raw query names a secret, in any letter case
// and any escaping. Escapes are decoded before the case is folded ("user%49d"
// is userId to the handlers), each on its own, so that one malformed escape
// cannot hide the rest, and repeatedly, so that double escaping cannot either.
func sensitive(raw string) bool {
	s := raw
	for range 3 {
		lower := strings.ToLower(s)
		if strings.Contains(lower, "userid") || strings.Contains(lower, "storagekey") {
			return true
		}
		s = unescapeLenient(s)
	}
	return false
}

// unescapeLenient decodes every valid %XX escape and '+', leaving the rest.
func unescapeLenient(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '+':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
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
