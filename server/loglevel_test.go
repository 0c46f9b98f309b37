package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/sqlite"
)

// lockedBuffer is the server's standard output in a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Every request is one JSON line on standard output; PocketBase's _logs
// table (the dashboard) keeps the refused and failed ones and the warnings,
// not the successes. DAILYREPS_LOG_LEVEL filters both: the request lines
// are info, so warn drops them while warnings (here: requests are not
// signed) are still written.
func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		level    string
		requests int
	}{{"info", 3}, {"warn", 0}} {
		t.Run(tc.level, func(t *testing.T) {
			out := &lockedBuffer{}
			s := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.LogLevel = tc.level }),
				servertest.WithOptions(func(o *server.Options) { o.LogOutput = out }))
			for range 3 {
				if r := s.Do(servertest.Request{Method: "GET", Path: "/api/info"}); r.Status != http.StatusOK {
					t.Fatalf("GET /api/info: %d", r.Status)
				}
				if r := s.Do(servertest.Request{Method: "GET", Path: "/api/backup?userId=" + strings.Repeat("ab", 32)}); r.Status != http.StatusBadRequest {
					t.Fatalf("GET /api/backup without a key: %d", r.Status)
				}
			}
			s.Stop() // writes the batched logs

			db, err := sqlite.DBConnect(filepath.Join(s.App.DataDir(), "auxiliary.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			count := func(route string) int {
				var n int
				err := db.NewQuery(`SELECT COUNT(*) FROM _logs WHERE message = 'request'
					AND json_extract(data, '$.route') = {:route}`).Bind(dbx.Params{"route": route}).Row(&n)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			var warnings int
			if err := db.NewQuery(`SELECT COUNT(*) FROM _logs WHERE level >= {:warn}`).
				Bind(dbx.Params{"warn": int(slog.LevelWarn)}).Row(&warnings); err != nil {
				t.Fatal(err)
			}
			if n := count("GET /api/info"); n != 0 {
				t.Errorf("%d successful request lines in _logs, want none (standard output has them)", n)
			}
			if n := count("GET /api/backup"); n != tc.requests {
				t.Errorf("%d refused request lines in _logs, want %d", n, tc.requests)
			}
			if warnings == 0 {
				t.Error("no warning written: the log is not being written at all")
			}

			// Standard output: one JSON object per line, every request.
			routes := map[string]int{}
			sc := bufio.NewScanner(strings.NewReader(out.String()))
			for sc.Scan() {
				var line struct {
					Msg, Route string
					Status     int
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("not a JSON line on standard output: %q", sc.Text())
				}
				if line.Msg == "request" {
					routes[line.Route]++
				}
			}
			if routes["GET /api/info"] != tc.requests || routes["GET /api/backup"] != tc.requests {
				t.Errorf("request lines on standard output: %v, want %d of each", routes, tc.requests)
			}
			if strings.Contains(out.String(), strings.Repeat("ab", 32)) || strings.Contains(out.String(), "userId") {
				t.Error("standard output holds the query string")
			}
		})
	}
}
