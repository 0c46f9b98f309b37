package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// Paths that net/http would clean (and redirect to, query and all) are
// answered without repeating the query anywhere.
func TestUncleanPathsDoNotEchoTheQuery(t *testing.T) {
	s := servertest.New(t)
	u, k := servertest.ID("path-user"), servertest.ID("path-key")
	q := "?userId=" + u + "&storageKey=" + k
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/api//backup", "/api/./backup", "/api/x/../backup", "//api/backup", "/api/backup/versions/..", "/./"} {
		resp, err := noFollow.Get(s.URL + p + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
		if r.Status >= 300 && r.Status < 400 || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q", p, r.Status, r.Header.Get("Location"))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, r.Header.Get("Cache-Control"))
		}
		for name, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(strings.ToLower(v), u) || strings.Contains(strings.ToLower(v), k) {
					t.Errorf("%s: header %s repeats an id", p, name)
				}
			}
		}
		if strings.Contains(string(r.Body), u) || strings.Contains(string(r.Body), k) {
			t.Errorf("%s: the body repeats an id", p)
		}
	}
	if r := s.Do(servertest.Request{Method: "GET", Path: "/api/backup" + q}); r.Status != http.StatusNotFound {
		t.Fatalf("a clean path: %d", r.Status)
	}
}
