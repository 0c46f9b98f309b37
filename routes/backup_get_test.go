package routes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

func TestGet(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	// Data with characters that need escaping comes back exactly as saved.
	data := `{"encrypted":"` + strings.Repeat("QUJD", 10) + `","nonce":"AAECAwQFBgcICQoL","appId":"a\"b\\c\u0001\u2028é"}`
	saved := save(t, s, u, k, data).JSON(t)
	r := get(s, u, k)
	m := r.JSON(t)
	if m["data"] != data || m["updatedAt"] != saved["updatedAt"] || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("get = %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers = %v", r.Header)
	}
}

// One identical 404 whether the user or the key is unknown.
func TestGetNotFoundIsIdentical(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'a'))
	unknownUser := get(s, id("nobody"), k)
	unknownKey := get(s, u, id("wrong"))
	expectError(t, unknownUser, http.StatusNotFound)
	expectError(t, unknownKey, http.StatusNotFound)
	if string(unknownUser.Body) != string(unknownKey.Body) {
		t.Fatalf("404s differ: %s vs %s", unknownUser.Body, unknownKey.Body)
	}
}

func TestGetInvalidQuery(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	for name, q := range map[string]string{
		"missing key":     "?userId=" + u,
		"missing user":    "?storageKey=" + k,
		"duplicated":      "?userId=" + u + "&userId=" + u + "&storageKey=" + k,
		"unknown param":   "?userId=" + u + "&storageKey=" + k + "&x=1",
		"other case":      "?userid=" + u + "&storageKey=" + k,
		"bad version":     "?userId=" + u + "&storageKey=" + k + "&version=-1",
		"nul in id":       "?userId=" + u[:63] + "%00&storageKey=" + k,
		"unicode digit":   "?userId=" + u[:63] + "%D9%A3&storageKey=" + k,
		"too long":        "?userId=" + u + "0&storageKey=" + k,
		"bad query":       "?userId=%zz",
		"no query at all": "",
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup" + q}), http.StatusBadRequest)
		})
	}
}

func TestWrongMethod(t *testing.T) {
	s := newServer(t)
	for _, c := range []struct{ method, path string }{
		{"PUT", "/api/backup"}, {"PATCH", "/api/backup"}, {"DELETE", "/api/backup"},
		{"GET", "/api/register"}, {"GET", "/api/user"}, {"POST", "/health"},
	} {
		r := s.Do(servertest.Request{Method: c.method, Path: c.path})
		expectError(t, r, http.StatusMethodNotAllowed)
		if r.Header.Get("Allow") == "" {
			t.Fatalf("%s %s: no Allow header", c.method, c.path)
		}
	}
}
