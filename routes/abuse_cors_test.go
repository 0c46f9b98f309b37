package routes_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
)

const (
	appOrigin     = "https://app.example.com"
	foreignOrigin = "https://evil.example"
)

func corsServer(t *testing.T, options ...servertest.Option) *servertest.Server {
	t.Helper()
	return servertest.New(t, append([]servertest.Option{servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.FailedLookupBurst = 0, 0
		c.AllowedOrigins = []string{appOrigin, "http://localhost:5173"}
	})}, options...)...)
}

func preflight(path, origin, method string) servertest.Request {
	return servertest.Request{Method: "OPTIONS", Path: path, Header: map[string]string{
		"Origin":                         origin,
		"Access-Control-Request-Method":  method,
		"Access-Control-Request-Headers": "content-type, x-timestamp, x-signature",
	}}
}

// listed reports whether a comma-separated header value lists want, in any
// letter case.
func listed(value, want string) bool {
	for _, v := range strings.Split(value, ",") {
		if strings.EqualFold(strings.TrimSpace(v), want) {
			return true
		}
	}
	return false
}

func TestCORSPreflightFromAllowedOrigin(t *testing.T) {
	s := corsServer(t)
	defer s.Unchanged(s.Snapshot())
	for _, c := range []struct{ path, method string }{
		{"/api/backup", "POST"}, {"/api/backup", "GET"}, {"/api/user", "DELETE"}, {"/api/register", "POST"},
		{"/api/backup/versions", "GET"}, {"/api/usage", "GET"},
	} {
		r := s.Do(preflight(c.path, appOrigin, c.method))
		if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
			t.Fatalf("%s %s preflight: %d %s", c.method, c.path, r.Status, r.Body)
		}
		h := r.Header
		if got := h.Get("Access-Control-Allow-Origin"); got != appOrigin {
			t.Fatalf("%s: Access-Control-Allow-Origin = %q", c.path, got)
		}
		for _, m := range []string{"GET", "POST", "DELETE"} {
			if !listed(h.Get("Access-Control-Allow-Methods"), m) {
				t.Fatalf("%s: Allow-Methods %q lacks %s", c.path, h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, name := range []string{"Content-Type", "X-Timestamp", "X-Signature"} {
			if !listed(h.Get("Access-Control-Allow-Headers"), name) {
				t.Fatalf("%s: Allow-Headers %q lacks %s", c.path, h.Get("Access-Control-Allow-Headers"), name)
			}
		}
		if !listed(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Fatalf("%s: no Vary: Origin", c.path)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatal("credentials allowed: the API uses none")
		}
	}
	// The allowlist is matched whole, not as a prefix or in another case
	// of scheme.
	for _, o := range []string{"http://app.example.com", "https://app.example.com.evil.example", "https://app.example.co"} {
		r := s.Do(preflight("/api/backup", o, "POST"))
		expectError(t, r, http.StatusForbidden)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s was allowed", o)
		}
	}
}

func TestCORSRefusedOrigin(t *testing.T) {
	s := corsServer(t)
	u, k := id("cors-owner"), id("cors-key")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'c'))
	before := s.Snapshot()

	r := s.Do(preflight("/api/backup", foreignOrigin, "POST"))
	expectError(t, r, http.StatusForbidden)
	noACAO(t, r)

	// A read is answered (a browser hides it from the page), without ACAO.
	g := s.Do(withHeader(servertest.Request{Method: "GET", Path: getPath(u, k)}, "Origin", foreignOrigin))
	expectStatus(t, g, http.StatusOK)
	noACAO(t, g)

	// A state-changing request is refused outright: a hidden answer would
	// still have changed data.
	for _, req := range []servertest.Request{
		saveReq(u, k, envelope(32, 'x')),
		deleteReq(u, k),
		{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": id("cors-newcomer")}},
		// A "simple" request, which a browser sends without a preflight.
		{Method: "POST", Path: "/api/backup", Body: `{"userId":"` + u + `","storageKey":"` + k + `","data":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ContentType: ptr("text/plain")},
		{Method: "POST", Path: "/api/backup", Body: "", ContentType: ptr("application/x-www-form-urlencoded")},
	} {
		for _, origin := range []string{foreignOrigin, "null"} {
			r := s.Do(withHeader(req, "Origin", origin))
			expectError(t, r, http.StatusForbidden)
			noACAO(t, r)
			s.Unchanged(before)
		}
	}
}

func TestCORSAllowedOriginActualRequests(t *testing.T) {
	s := corsServer(t)
	u, k := id("cors-app"), id("cors-app-key")
	r := s.Do(withHeader(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}, "Origin", appOrigin))
	expectStatus(t, r, http.StatusOK)
	r = s.Do(withHeader(saveReq(u, k, envelope(32, 'a')), "Origin", appOrigin))
	expectStatus(t, r, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("ACAO = %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	// The policy runs once per request, not once per router level.
	if vary := r.Header.Values("Vary"); len(vary) != 1 || vary[0] != "Origin" {
		t.Fatalf("Vary = %q", vary)
	}
	// The page needs to read these.
	for _, name := range []string{"ETag", "Retry-After", "X-Server-Time"} {
		if !listed(r.Header.Get("Access-Control-Expose-Headers"), name) {
			t.Fatalf("Expose-Headers %q lacks %s", r.Header.Get("Access-Control-Expose-Headers"), name)
		}
	}
	// Errors carry ACAO too, or the page could not read them.
	e := s.Do(withHeader(servertest.Request{Method: "GET", Path: getPath(u, id("wrong"))}, "Origin", appOrigin))
	expectError(t, e, http.StatusNotFound)
	if e.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatal("an error answer to an allowed origin lacks ACAO")
	}
	d := s.Do(withHeader(deleteReq(u, k), "Origin", appOrigin))
	expectStatus(t, d, http.StatusOK)
}

// The page the server itself serves is allowed without being listed.
func TestCORSSameOrigin(t *testing.T) {
	s := servertest.New(t) // no allowlist at all
	host := strings.TrimPrefix(s.URL, "http://")
	u, k := id("same-origin"), id("same-origin-key")
	for _, origin := range []string{"http://" + host, "https://" + host} {
		r := s.Do(withHeader(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}, "Origin", origin))
		if r.Status != http.StatusOK && r.Status != http.StatusConflict {
			t.Fatalf("same-origin register from %s: %d %s", origin, r.Status, r.Body)
		}
	}
	r := s.Do(withHeader(saveReq(u, k, envelope(32, 's')), "Origin", "http://"+host))
	expectStatus(t, r, http.StatusOK)
	// Another port on the same host is another origin.
	before := s.Snapshot()
	other := "http://" + strings.Split(host, ":")[0] + ":1"
	expectError(t, s.Do(withHeader(saveReq(u, k, envelope(32, 't')), "Origin", other)), http.StatusForbidden)
	s.Unchanged(before)
}

// PocketBase's serve binds its allow-everything CORS to every route; no
// answer under /api, nor anywhere, may carry its "*".
func TestCORSNoWildcardAnywhere(t *testing.T) {
	site := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>page</title>")}}
	for name, s := range map[string]*servertest.Server{
		"without a page": corsServer(t),
		"with a page":    corsServer(t, servertest.WithOptions(func(o *server.Options) { o.Public = site })),
	} {
		u, k := id("wild"), id("wild-key")
		register(t, s, u)
		save(t, s, u, k, envelope(32, 'w'))
		before := s.Snapshot()
		requests := []servertest.Request{
			{Method: "GET", Path: getPath(u, k)},
			{Method: "GET", Path: getPath(u, id("nokey"))}, // 404
			{Method: "PUT", Path: "/api/backup"},           // 405
			{Method: "PATCH", Path: "/api/user"},
			{Method: "GET", Path: "/api/info"},
			{Method: "GET", Path: "/health"},
			{Method: "GET", Path: "/api/nothing-here"},
			{Method: "POST", Path: "/api/nothing-here", Body: "{}"},
			{Method: "DELETE", Path: "/api/nothing/here"},
			{Method: "GET", Path: "/api"},
			{Method: "GET", Path: "/api/"},
			{Method: "GET", Path: "/api/health"},                    // PocketBase's own
			{Method: "GET", Path: "/api/collections"},               // PocketBase's own, superusers only
			{Method: "GET", Path: "/api/collections/users/records"}, // PocketBase's own
			{Method: "POST", Path: "/api/collections/users/auth-with-password", Body: "{}"},
			{Method: "GET", Path: "/"},
			{Method: "GET", Path: "/no-such-page"},
			{Method: "FOO", Path: "/api/backup"},
			{Method: "OPTIONS", Path: "/api/nothing-here"},
		}
		for _, origin := range []string{foreignOrigin, appOrigin} {
			for _, req := range requests {
				req = withHeader(req, "Origin", origin)
				r := s.Do(req)
				if got := r.Header.Get("Access-Control-Allow-Origin"); got == "*" || got != "" && got != appOrigin {
					t.Errorf("%s: %s %s from %s: Access-Control-Allow-Origin %q", name, req.Method, req.Path, origin, got)
				}
				if origin == foreignOrigin && r.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s: %s %s: a foreign origin was allowed", name, req.Method, req.Path)
				}
				pf := s.Do(preflight(req.Path, origin, "POST"))
				if got := pf.Header.Get("Access-Control-Allow-Origin"); got == "*" || origin == foreignOrigin && got != "" {
					t.Errorf("%s: preflight of %s from %s: Access-Control-Allow-Origin %q", name, req.Path, origin, got)
				}
				if got := pf.Header.Get("Access-Control-Allow-Methods"); origin == foreignOrigin && got != "" {
					t.Errorf("%s: preflight of %s from a foreign origin: Allow-Methods %q", name, req.Path, got)
				}
			}
		}
		s.Unchanged(before)
	}
}

// A foreign page cannot change data through PocketBase's own routes either.
func TestCORSForeignWriteToUnknownPathRefused(t *testing.T) {
	s := corsServer(t)
	before := s.Snapshot()
	for _, p := range []string{"/api/nothing-here", "/api/collections/users/records"} {
		r := s.Do(withHeader(servertest.Request{Method: "POST", Path: p, Body: "{}"}, "Origin", foreignOrigin))
		if r.Status != http.StatusForbidden {
			t.Fatalf("POST %s from a foreign origin: %d %s", p, r.Status, r.Body)
		}
	}
	s.Unchanged(before)
}

func noACAO(t *testing.T, r *servertest.Response) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("Access-Control-Allow-Origin = %q for a refused origin", got)
	}
}

// A DNS-rebinding page names its own host in Host and Origin alike: Host
// must not make it the server's own page. Without DAILYREPS_PUBLIC_URL only
// a loopback page is; with it, the configured origin is, whatever the Host.
func TestCORSRebindingIsNotSameOrigin(t *testing.T) {
	s := servertest.New(t)
	port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
	post := func(host, origin string) int {
		req, err := http.NewRequest("POST", s.URL+"/api/register", strings.NewReader(`{"userId":"`+id(host+origin)+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	rebound := "rebind.example:" + port
	if st := post(rebound, "http://"+rebound); st != http.StatusForbidden {
		t.Fatalf("a rebinding page's register: %d, want 403", st)
	}
	if st := post("localhost:"+port, "http://localhost:"+port); st != http.StatusOK {
		t.Fatalf("a loopback page's register: %d", st)
	}

	pub := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.PublicURLs = []string{"https://backup.example.com"} }))
	r := pub.Do(withHeader(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": id("pub")}},
		"Origin", "https://backup.example.com"))
	expectStatus(t, r, http.StatusOK)
	r = pub.Do(withHeader(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": id("pub2")}},
		"Origin", strings.Replace(pub.URL, "127.0.0.1", "localhost", 1)))
	expectStatus(t, r, http.StatusForbidden)
}
