package commands

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/postgres/pgtest"
)

// backends runs f once per backend: "" is SQLite, anything else a
// PostgreSQL DSN.
func backends(t *testing.T, f func(t *testing.T, databaseURL string)) {
	t.Run("SQLite", func(t *testing.T) { f(t, "") })
	t.Run("PostgreSQL", func(t *testing.T) { f(t, pgtest.DSN(t)) })
}

// statsServer is a test server on the given backend with the limits that
// would refuse the test's own saves turned off.
func statsServer(t *testing.T, databaseURL string) *servertest.Server {
	t.Helper()
	return servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.DatabaseURL = databaseURL
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay, c.SavesPerHour, c.SavesPerDay = 0, 0, 0, 0, 0
	}))
}

// runStats runs `stats` with args against s's data directory and backend,
// beside the running server as an operator would.
func runStats(t *testing.T, s *servertest.Server, cfg config.Config, args ...string) (string, error) {
	t.Helper()
	cmd := newStatsCommand(s.App, cfg)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func statsJSON(t *testing.T, s *servertest.Server) statsReport {
	t.Helper()
	out, err := runStats(t, s, s.Config, "--json")
	if err != nil {
		t.Fatalf("stats --json: %v", err)
	}
	var r statsReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stats --json printed %q: %v", out, err)
	}
	return r
}

// sealed is a data value whose ciphertext is n bytes.
func sealed(n int) string {
	b, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'x'}, n)),
		"nonce":     "AAECAwQFBgcICQoL",
	})
	return string(b)
}

func mustDo(t *testing.T, s *servertest.Server, r servertest.Request) {
	t.Helper()
	if resp := s.Do(r); resp.Status != 200 {
		t.Fatalf("%s %s: %d %s", r.Method, r.Path, resp.Status, resp.Body)
	}
}

func TestStatsCountsWhatWasSaved(t *testing.T) {
	backends(t, func(t *testing.T, databaseURL string) {
		s := statsServer(t, databaseURL)
		backend := map[bool]string{false: "sqlite", true: "postgres"}[databaseURL != ""]

		if got := statsJSON(t, s); got != (statsReport{Backend: backend, Database: got.Database}) {
			t.Fatalf("stats of an empty store = %+v", got)
		}

		alice, bob := servertest.ID("alice"), servertest.ID("bob")
		saves := []struct{ user, key, data string }{
			{alice, servertest.ID("alice-phone"), sealed(100)},
			{alice, servertest.ID("alice-phone"), sealed(3000)}, // the first moves to history
			{alice, servertest.ID("alice-laptop"), sealed(20)},
			{bob, servertest.ID("bob-phone"), sealed(5000)},
		}
		for _, u := range []string{alice, bob, servertest.ID("carol")} { // carol never saves
			mustDo(t, s, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})
		}
		var bytesSaved int64
		for _, sv := range saves {
			mustDo(t, s, servertest.Request{Method: "POST", Path: "/api/backup",
				Body: map[string]string{"userId": sv.user, "storageKey": sv.key, "data": sv.data}})
			bytesSaved += int64(len(sv.data))
		}

		got := statsJSON(t, s)
		want := statsReport{Backend: backend, Database: got.Database,
			Users: 3, Backups: 3, Versions: int64(len(saves)), StoredBytes: bytesSaved}
		if got != want {
			t.Fatalf("stats --json = %+v, want %+v", got, want)
		}
		if got.Database == "" {
			t.Fatal("stats names no database")
		}

		text, err := runStats(t, s, s.Config)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		for _, line := range []string{
			"Users:     3\n", "Backups:   3\n", "Versions:  4 (newest and history)\n",
			"Stored:    " + formatBytes(bytesSaved) + "\n", got.Database,
		} {
			if !strings.Contains(text, line) {
				t.Errorf("stats printed:\n%s\nwithout %q", text, line)
			}
		}
	})
}

// TestStatsRefusesAnotherPepper: a command run with the wrong pepper must
// fail as the server would, rather than report on data it cannot match.
func TestStatsRefusesAnotherPepper(t *testing.T) {
	backends(t, func(t *testing.T, databaseURL string) {
		s := statsServer(t, databaseURL)
		cfg := s.Config
		cfg.Pepper = [][]byte{bytes.Repeat([]byte{0x17}, pepper.KeySize)}
		out, err := runStats(t, s, cfg, "--json")
		if err == nil || out != "" {
			t.Fatalf("stats with another pepper: %q, %v", out, err)
		}
	})
}

// TestStatsKeepsCredentialsOut: neither the output nor an error shows the
// password or the DSN's parameters.
func TestStatsKeepsCredentialsOut(t *testing.T) {
	const password = "pw-that-must-not-show"
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The test server trusts local connections, so any password connects.
	u.User = url.UserPassword(u.User.Username(), password)
	s := statsServer(t, dsn)
	cfg := s.Config
	cfg.DatabaseURL = u.String()

	for _, args := range [][]string{{}, {"--json"}} {
		out, err := runStats(t, s, cfg, args...)
		if err != nil {
			t.Fatalf("stats %v: %v", args, err)
		}
		if !strings.Contains(out, u.Host+u.Path) {
			t.Errorf("stats %v does not name %s: %s", args, u.Host+u.Path, out)
		}
		if strings.Contains(out, password) || strings.Contains(out, "search_path") {
			t.Errorf("stats %v shows the DSN's secrets or parameters: %s", args, out)
		}
	}

	// Nothing listens on a port just freed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cfg.DatabaseURL = "postgres://someone:" + password + "@" + closed + "/db?sslmode=disable"
	out, err := runStats(t, s, cfg)
	if err == nil || out != "" {
		t.Fatalf("stats against no database: %q, %v", out, err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("the error shows the password: %v", err)
	}
}

func TestPostgresLocation(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:p@db.internal:5432/dailyreps?sslmode=require":   "db.internal:5432/dailyreps",
		"postgresql://u:p@a:5432,b:5433/app?target_session_attrs=any": "a:5432,b:5433/app",
		"postgres://u:p@ss@h/d":                  "h/d", // an unescaped '@' in the password
		"postgres:///d?host=/var/run/postgresql": "(default host)/d",
		"postgres://h":                           "h/(default database)",
		"postgres://u:%2Fp%40@[::1]:5432/d?options=-c%20statement_timeout": "[::1]:5432/d",
	} {
		if got := postgresLocation(dsn); got != want {
			t.Errorf("postgresLocation(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:           "0 bytes",
		1023:        "1023 bytes",
		1024:        "1.0 KiB (1024 bytes)",
		1536:        "1.5 KiB (1536 bytes)",
		5 << 20:     "5.0 MiB (5242880 bytes)",
		3<<30 + 1:   "3.0 GiB (3221225473 bytes)",
		1<<40 + 1e9: "1.0 TiB (1100511627776 bytes)",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
