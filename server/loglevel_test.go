package server_test

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/sqlite"
)

// DAILYREPS_LOG_LEVEL filters the server's own lines: the per-request lines
// are info, so warn drops them while warnings (here: requests are not
// signed) are still written.
func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		level    string
		requests int
	}{{"info", 3}, {"warn", 0}} {
		t.Run(tc.level, func(t *testing.T) {
			s := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.LogLevel = tc.level }))
			for range 3 {
				if r := s.Do(servertest.Request{Method: "GET", Path: "/api/info"}); r.Status != http.StatusOK {
					t.Fatalf("GET /api/info: %d", r.Status)
				}
			}
			s.Stop() // writes PocketBase's batched logs

			db, err := sqlite.DBConnect(filepath.Join(s.App.DataDir(), "auxiliary.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var requests, warnings int
			err = db.NewQuery(`SELECT COUNT(*) FROM _logs WHERE message = 'request'
				AND json_extract(data, '$.route') = 'GET /api/info'`).Row(&requests)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.NewQuery(`SELECT COUNT(*) FROM _logs WHERE level >= {:warn}`).
				Bind(dbx.Params{"warn": int(slog.LevelWarn)}).Row(&warnings); err != nil {
				t.Fatal(err)
			}
			if requests != tc.requests {
				t.Errorf("%d request lines written, want %d", requests, tc.requests)
			}
			if warnings == 0 {
				t.Error("no warning written: the log is not being written at all")
			}
		})
	}
}
