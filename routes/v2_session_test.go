package routes_test

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

// sessionRoutes are every route that needs a session, with a body each
// would accept.
func sessionRoutes(u *v2User, id string) []servertest.Request {
	return []servertest.Request{
		{Method: "POST", Path: "/api/v2/logout"},
		{Method: "POST", Path: "/api/v2/password", Body: map[string]any{"auth": u.password.auth,
			"new": map[string]any{"kdf": u.password.kdf, "auth": u.password.auth, "wrappedKey": u.password.wrappedKey}}},
		{Method: "GET", Path: "/api/v2/backups"},
		{Method: "PUT", Path: "/api/v2/backups/" + id, Body: map[string]any{"version": 1, "data": `{"v":2,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`}},
		{Method: "GET", Path: "/api/v2/backups/" + id},
		{Method: "GET", Path: "/api/v2/backups/" + id + "/versions"},
		{Method: "DELETE", Path: "/api/v2/backups/" + id},
		{Method: "GET", Path: "/api/v2/account"},
		{Method: "DELETE", Path: "/api/v2/account", Body: map[string]any{"auth": u.password.auth}},
	}
}

// Without a live session every session route answers 401 "Sign in
// again." and changes nothing.
func TestV2SessionRequired(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "session-alice", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	v2Save(t, s, u, id, 1, "kept")
	live := u.token

	r := s.Do(postReq("/api/v2/login", u.loginBody()))
	ended := sessionOf(t, r)
	expectStatus(t, s.Do(bearer(ended, servertest.Request{Method: "POST", Path: "/api/v2/logout"})), http.StatusOK)

	unknown := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	headers := map[string]string{
		"none":            "",
		"unknown token":   "Bearer " + unknown,
		"ended session":   "Bearer " + ended,
		"basic scheme":    "Basic " + live,
		"no scheme":       live,
		"token cut short": "Bearer " + live[:42],
		"token padded":    "Bearer " + live + "=",
		"standard base64": "Bearer " + base64.StdEncoding.EncodeToString(randomBytes(32)),
		"two spaces":      "Bearer  " + live,
		"trailing text":   "Bearer " + live + " x",
	}
	before := s.Snapshot()
	for name, h := range headers {
		for _, req := range sessionRoutes(u, id) {
			if h != "" {
				req = withHeader(req, "Authorization", h)
			}
			r := s.Do(req)
			if msg := expectError(t, r, http.StatusUnauthorized); msg != "Sign in again." {
				t.Fatalf("%s, %s %s: 401 says %q", name, req.Method, req.Path, msg)
			}
		}
	}
	s.Unchanged(before)
	// The scheme's case does not matter.
	expectStatus(t, s.Do(withHeader(getReq("", "/api/v2/backups"), "Authorization", "bearer "+live)), http.StatusOK)
}

// A session ends an hour after the login, whatever is done with it.
func TestV2SessionExpires(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "session-bob", "pw")
	v2Register(t, s, u)
	s.Clock.Advance(time.Hour - time.Second)
	expectStatus(t, s.Do(getReq(u.token, "/api/v2/backups")), http.StatusOK)
	s.Clock.Advance(time.Second)
	expectError(t, s.Do(getReq(u.token, "/api/v2/backups")), http.StatusUnauthorized)
	v2Login(t, s, u)
	expectStatus(t, s.Do(getReq(u.token, "/api/v2/backups")), http.StatusOK)
}

// Logout ends its session only.
func TestV2Logout(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "logout-alice", "pw")
	v2Register(t, s, u)
	other := u.token
	v2Login(t, s, u)
	r := s.Do(bearer(u.token, servertest.Request{Method: "POST", Path: "/api/v2/logout"}))
	if r.Status != http.StatusOK || string(r.Body) != `{"success":true}` {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	expectError(t, s.Do(bearer(u.token, servertest.Request{Method: "POST", Path: "/api/v2/logout"})), http.StatusUnauthorized)
	expectError(t, s.Do(getReq(u.token, "/api/v2/backups")), http.StatusUnauthorized)
	expectStatus(t, s.Do(getReq(other, "/api/v2/backups")), http.StatusOK)
}
