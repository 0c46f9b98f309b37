package hooks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// A protocol v2 session token sent in a URL or a Referer (a careless
// client, a link pasted around) is a live login: the request log gets it
// masked, in any escaping, while the handlers see it.
func TestRedactLoggedURLMasksTokens(t *testing.T) {
	const token = "Ab3_-xYz09Ab3_-xYz09Ab3_-xYz09Ab3_-xYz09Ab3" // 43 base64url characters
	for _, c := range []struct{ target, referer string }{
		{"/api/v2/backups/" + token, ""},
		{"/api/v2/backups?token=" + token, "https://app.example/#" + token},
		{"/x?t=" + strings.ReplaceAll(token, "_", "%5F"), "https://app.example/?t=" + strings.ReplaceAll(token, "-", "%252D")},
	} {
		r := parseRequest(http.MethodGet, c.target, nil)
		r.Header.Set("Referer", c.referer)
		e := &core.RequestEvent{}
		e.Request, e.Response = r, httptest.NewRecorder()
		h := &hook.Hook[*core.RequestEvent]{}
		h.Bind(RedactLoggedURL())
		var seen string
		if err := h.Trigger(e, func(e *core.RequestEvent) error {
			seen = e.Request.URL.RequestURI()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if seen != c.target {
			t.Fatalf("the handler saw %q, the client sent %q", seen, c.target)
		}
		for what, logged := range map[string]string{"URL": e.Request.URL.RequestURI(), "Referer": e.Request.Referer()} {
			if strings.Contains(unescapeAll(logged), token[:20]) {
				t.Errorf("the logged %s %q holds the token", what, logged)
			}
		}
	}
}
