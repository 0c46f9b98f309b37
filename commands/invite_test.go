package commands

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	_ "github.com/dailyreps/backup/migrations" // the schema openStore applies
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/postgres/pgtest"
)

// inviteConfig is the configuration an operator would run the command with:
// the server's pepper and, on the PostgreSQL run, a fresh database.
func inviteConfig(t *testing.T, registration string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Pepper = [][]byte{servertest.TestPepper}
	cfg.Registration = registration
	if servertest.Postgres() {
		cfg.DatabaseURL = pgtest.DSN(t)
	}
	return cfg
}

// runInvite runs "invite args..." as the binary does.
func runInvite(t *testing.T, dataDir string, cfg config.Config, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCommand(t, dataDir, cfg, append([]string{"invite"}, args...)...)
}

var codeFormat = regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$`)

func registerWithInvite(s *servertest.Server, user, code string) *servertest.Response {
	return s.Do(servertest.Request{Method: "POST", Path: "/api/register",
		Body: map[string]string{"userId": user}, Header: map[string]string{"X-Invite-Code": code}})
}

// The command works on a fresh data directory (and a fresh PostgreSQL
// database), and the codes it prints register users on the server, once each.
func TestInviteCreate(t *testing.T) {
	dir := t.TempDir()
	cfg := inviteConfig(t, config.RegistrationInvite)
	out, notes, err := runInvite(t, dir, cfg, "create", "--count", "3", "--expires", "48h")
	if err != nil {
		t.Fatalf("invite create: %v (%s)", err, notes)
	}
	codes := strings.Fields(out)
	if len(codes) != 3 || out != strings.Join(codes, "\n")+"\n" {
		t.Fatalf("output is not 3 codes, one per line: %q", out)
	}
	for _, c := range codes {
		if !codeFormat.MatchString(c) {
			t.Fatalf("code %q is not five groups of four base32 characters", c)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(codes)))) != 3 {
		t.Fatalf("codes repeat: %v", codes)
	}
	if !strings.Contains(notes, "3 invite codes") || !strings.Contains(notes, "cannot be shown again") ||
		strings.Contains(notes, "take effect once") {
		t.Fatalf("notes = %q", notes)
	}

	s := servertest.New(t, servertest.WithDataDir(dir), servertest.WithConfig(func(c *config.Config) {
		c.DatabaseURL = cfg.DatabaseURL
		c.Registration = config.RegistrationInvite
		c.IPBurst, c.RegisterPerHour = 0, 0
	}))
	expectStoredHashes(t, s, codes, 48*time.Hour)

	if r := registerWithInvite(s, servertest.ID("first"), codes[0]); r.Status != http.StatusOK {
		t.Fatalf("register with a new code: %d %s", r.Status, r.Body)
	}
	before := s.Snapshot()
	if r := registerWithInvite(s, servertest.ID("second"), codes[0]); r.Status != http.StatusForbidden {
		t.Fatalf("register with a used code: %d %s", r.Status, r.Body)
	}
	s.Unchanged(before)
	// Typed back by hand: lower case, without the dashes.
	typed := strings.ToLower(strings.ReplaceAll(codes[1], "-", ""))
	if r := registerWithInvite(s, servertest.ID("second"), typed); r.Status != http.StatusOK {
		t.Fatalf("register with a retyped code: %d %s", r.Status, r.Body)
	}
	s.Clock.Advance(49 * time.Hour)
	before = s.Snapshot()
	if r := registerWithInvite(s, servertest.ID("third"), codes[2]); r.Status != http.StatusForbidden {
		t.Fatalf("register with an expired code: %d %s", r.Status, r.Body)
	}
	s.Unchanged(before)
}

// expectStoredHashes checks that the database holds exactly the codes'
// hashes, never the codes, each valid for ttl.
func expectStoredHashes(t *testing.T, s *servertest.Server, codes []string, ttl time.Duration) {
	t.Helper()
	var rows []struct {
		Code     string `db:"code"`
		Lifetime int64  `db:"lifetime"`
	}
	if err := s.DB().NewQuery(`SELECT code, expires - created AS lifetime FROM invites ORDER BY code`).All(&rows); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range codes {
		want = append(want, routes.InviteHash(c))
	}
	slices.Sort(want)
	if len(rows) != len(want) {
		t.Fatalf("%d invites stored, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if r.Code != want[i] || time.Duration(r.Lifetime)*time.Millisecond != ttl {
			t.Fatalf("stored invite %d = %s valid %dms; want %s valid %v", i, r.Code, r.Lifetime, want[i], ttl)
		}
	}
}

// Codes minted while registration is still open work once it is switched
// to invite; the operator is told so.
func TestInviteCreateWhileOpen(t *testing.T) {
	cfg := inviteConfig(t, config.RegistrationOpen)
	out, notes, err := runInvite(t, t.TempDir(), cfg, "create")
	if err != nil {
		t.Fatal(err)
	}
	if codes := strings.Fields(out); len(codes) != 1 || !codeFormat.MatchString(codes[0]) {
		t.Fatalf("output = %q", out)
	}
	if !strings.Contains(notes, "1 invite code,") || !strings.Contains(notes, "DAILYREPS_REGISTRATION=invite") {
		t.Fatalf("notes = %q", notes)
	}
}

func TestInviteCreateRefusesBadFlags(t *testing.T) {
	cfg := inviteConfig(t, config.RegistrationInvite)
	for _, args := range [][]string{
		{"create", "--count", "0"},
		{"create", "--count", "1001"},
		{"create", "--count", "-2"},
		{"create", "--expires", "0s"},
		{"create", "--expires", "-1h"},
		{"create", "--expires", "168"}, // a unit is required
		{"create", "extra"},
	} {
		out, _, err := runInvite(t, t.TempDir(), cfg, args...)
		if err == nil || out != "" {
			t.Fatalf("invite %v: err %v, output %q; want an error and no codes", args, err, out)
		}
	}
}

// "invite" alone explains itself rather than doing anything.
func TestInviteHelp(t *testing.T) {
	out, _, err := runInvite(t, t.TempDir(), inviteConfig(t, config.RegistrationInvite))
	if err != nil || !strings.Contains(out, "create") || !strings.Contains(out, "X-Invite-Code") {
		t.Fatalf("invite: %v, output %q", err, out)
	}
}
