package commands_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dailyreps/backup/commands"
	"github.com/dailyreps/backup/servertest"
)

func runHealth(args ...string) (string, error) {
	cmd := commands.NewHealthCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// Against the real server: 200 while the database answers, then the reason.
func TestHealthAgainstServer(t *testing.T) {
	s := servertest.New(t)
	out, err := runHealth("--url", s.URL+"/health")
	if err != nil || out != "ok\n" {
		t.Fatalf("healthy server: %q, %v", out, err)
	}
	if _, err := s.DB().NewQuery(`DROP TABLE dailyreps_meta`).Execute(); err != nil {
		t.Fatal(err)
	}
	_, err = runHealth("--url", s.URL+"/health")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "The database is not reachable.") {
		t.Fatalf("broken database: %v", err)
	}
}

func TestHealthFailures(t *testing.T) {
	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/health"
	}
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/health"
	ln.Close()

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"503 with a reason", []string{"--url", answer(503, `{"error":"The data directory's disk is (nearly) full."}`)}, "503: The data directory's disk is (nearly) full."},
		{"500 without JSON", []string{"--url", answer(500, "<html>\n</html>")}, "500: Internal Server Error"},
		{"multi-line reason", []string{"--url", answer(503, `{"error":"first\nsecond"}`)}, "503: first second"},
		{"redirect", []string{"--url", redirect.URL + "/health"}, "302"},
		{"no answer in time", []string{"--url", hang.URL + "/health", "--timeout", "50ms"}, "no answer from"},
		{"nothing listening", []string{"--url", closed}, "connection refused"},
		{"not a URL", []string{"--url", "127.0.0.1:8090/health"}, "--url must be"},
		{"bad timeout", []string{"--url", closed, "--timeout", "0s"}, "--timeout must be"},
		{"argument", []string{"extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runHealth(tc.args...)
			if err == nil {
				t.Fatalf("exit 0 (%q)", out)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line containing %q", msg, tc.want)
			}
			if out != "" {
				t.Fatalf("printed %q on failure (main prints the error)", out)
			}
		})
	}
}
