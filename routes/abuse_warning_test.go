package routes_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/sqlite"
)

// loggedMessages stops the server, which writes out its log as a shutdown
// does, and counts the entries of the app log whose message contains substr.
func loggedMessages(t *testing.T, s *servertest.Server, substr string) int {
	t.Helper()
	s.Stop()
	db, err := sqlite.DBConnect(filepath.Join(s.App.DataDir(), "auxiliary.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var messages []string
	if err := db.Select("message").From(core.LogsTableName).Column(&messages); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range messages {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func TestUnsignedServerWarnsOnce(t *testing.T) {
	s := newServer(t)
	// Requests must not repeat the warning.
	u := id("warned")
	register(t, s, u)
	save(t, s, u, id("k"), envelope(32, 'w'))
	if n := loggedMessages(t, s, "DAILYREPS_HMAC_SECRET"); n != 1 {
		t.Fatalf("%d warnings about the missing signing secret, want exactly 1", n)
	}
}

func TestSignedServerDoesNotWarn(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.HMACSecret = []byte(testSecret) })
	// The log works: the access log recorded this refused (unsigned) request.
	s.Do(servertest.Request{Method: "GET", Path: "/api/backup"})
	if n := loggedMessages(t, s, "request"); n == 0 {
		t.Fatal("nothing reached the app log; the check below would prove nothing")
	}
	if n := loggedMessages(t, s, "HMAC"); n != 0 {
		t.Fatalf("%d warnings about the signing secret although it is set", n)
	}
}
