package clientcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// The v2 commands against the real server, signing on, as a person or a
// script runs them one after another on one device.
func TestV2CommandsAgainstTheServer(t *testing.T) {
	const secret = "the operator's signing secret"
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.HMACSecret = []byte(secret)
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
	}))
	env := v2Env(t, EnvHMACSecret, secret)
	account := []string{"--server", s.URL, "--username", "Nadia"}
	args := func(command string, rest ...string) []string {
		return append(append([]string{command}, rest...), account...)
	}
	dir := t.TempDir()

	codeFile := filepath.Join(dir, "code")
	mustSucceed(t, run(t, env, "", args("register", "--protocol", "v2", "--recovery-code-file", codeFile)...))
	mustFail(t, run(t, env, "", args("register", "--protocol", "v2")...), "409")
	raw, err := os.ReadFile(codeFile)
	if err != nil || !codePattern.Match(raw) {
		t.Fatalf("code file: %q, %v", raw, err)
	}
	code := strings.TrimSpace(string(raw))

	doc := filepath.Join(dir, "export.json")
	if err := os.WriteFile(doc, []byte("{\n  \"reps\": [20, 18]\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustSucceed(t, run(t, env, "", args("save", doc)...))
	if !strings.HasPrefix(r.stdout, "saved version 1 at ") {
		t.Errorf("save printed %q", r.stdout)
	}
	mustSucceed(t, run(t, env, `{"second":true}`, args("save")...))
	out := filepath.Join(dir, "restored.json")
	mustSucceed(t, run(t, env, "", args("restore", "--version", "1", out)...))
	if got, _ := os.ReadFile(out); string(got) != "{\n  \"reps\": [20, 18]\n}\n" {
		t.Errorf("restored %q", got)
	}
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"second":true}` {
		t.Errorf("restore = %q", got)
	}
	if lines := strings.Split(strings.TrimSpace(mustSucceed(t, run(t, env, "", args("versions")...)).stdout), "\n"); len(lines) != 3 {
		t.Errorf("versions: %q", lines)
	}
	// Without the signing secret the server refuses, as for v1.
	unsigned := map[string]string{EnvPassword: testPassword, EnvConfigDir: env[EnvConfigDir]}
	mustFail(t, run(t, unsigned, "", args("backups")...), "401")

	next := withPassword(EnvHMACSecret, secret, EnvConfigDir, env[EnvConfigDir], EnvNewPassword, "second password")
	mustSucceed(t, run(t, next, "", args("passwd")...))
	mustFail(t, run(t, env, "", args("login")...), "rong username or password")
	env[EnvPassword] = "second password"
	mustSucceed(t, run(t, env, "", args("login")...))

	rec := map[string]string{EnvHMACSecret: secret, EnvConfigDir: env[EnvConfigDir], EnvRecoveryCode: code, EnvNewPassword: "third password"}
	r = mustSucceed(t, run(t, rec, "", args("recover")...))
	if newCode := codePattern.FindString(r.stderr); newCode == "" || newCode == code {
		t.Errorf("recover stderr %q", r.stderr)
	}
	env[EnvPassword] = "third password"
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"second":true}` {
		t.Errorf("restore after recovery = %q", got)
	}

	mustSucceed(t, run(t, env, "", args("logout")...))
	mustSucceed(t, run(t, env, "", args("delete-account", "--yes")...))
	mustFail(t, run(t, env, "", args("login")...), "rong username or password")
}

// A v1 user moves to v2 with the upgrade command; every version follows.
func TestUpgradeCommandAgainstTheServer(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
	}))
	env := v2Env(t)
	account := []string{"--server", s.URL, "--username", "Old-Timer"}
	args := func(command string, rest ...string) []string {
		return append(append([]string{command}, rest...), account...)
	}
	// The v1 commands, exactly as existing scripts run them.
	mustSucceed(t, run(t, env, "", args("register")...))
	mustSucceed(t, run(t, env, `{"v1":1}`, args("save")...))
	mustSucceed(t, run(t, env, `{"v1":2}`, args("save")...))

	r := mustSucceed(t, run(t, env, "", args("upgrade")...))
	if r.stdout != "upgraded Old-Timer to protocol v2\n" || !codePattern.MatchString(r.stderr) {
		t.Errorf("upgrade: %q, stderr %q", r.stdout, r.stderr)
	}
	// The same commands now speak v2, with the session kept.
	if got := mustSucceed(t, run(t, env, "", args("restore", "--version", "1")...)).stdout; got != `{"v1":1}` {
		t.Errorf("v1 version 1 after the upgrade = %q", got)
	}
	mustSucceed(t, run(t, env, `{"v2":3}`, args("save")...))
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"v2":3}` {
		t.Errorf("restore = %q", got)
	}
	mustFail(t, run(t, env, `{}`, args("save", "--protocol", "v1")...), "login")
	mustFail(t, run(t, env, "", args("upgrade")...), "404")

	// The session's hour passes (on the server's clock, which a signing
	// server would also hold the signatures to): the next command signs
	// in by itself.
	s.Clock.Advance(2 * time.Hour)
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"v2":3}` {
		t.Errorf("restore after the session ended = %q", got)
	}
}

// A v1 backup kept under an older password joins the upgraded account.
func TestUpgradeIntoAccountAgainstTheServer(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
	}))
	env := v2Env(t)
	account := []string{"--server", s.URL, "--username", "two-keys"}
	args := func(command string, rest ...string) []string {
		return append(append([]string{command}, rest...), account...)
	}
	older := map[string]string{EnvPassword: "an older password"}
	mustSucceed(t, run(t, older, "", args("register")...))
	mustSucceed(t, run(t, older, `{"older":true}`, args("save")...))
	mustSucceed(t, run(t, env, `{"newer":true}`, args("save")...))
	mustSucceed(t, run(t, env, "", args("upgrade")...))

	mustFail(t, run(t, env, "", args("upgrade", "--into-account")...), EnvV1Password)
	env[EnvV1Password] = "an older password"
	r := mustSucceed(t, run(t, env, "", args("upgrade", "--into-account")...))
	id := backupIDOf(r.stdout)
	if id == "" {
		t.Fatalf("upgrade --into-account printed %q", r.stdout)
	}
	if got := mustSucceed(t, run(t, env, "", args("restore", "--backup", id)...)).stdout; got != `{"older":true}` {
		t.Errorf("the added backup = %q", got)
	}
	if lines := strings.Split(strings.TrimSpace(mustSucceed(t, run(t, env, "", args("backups")...)).stdout), "\n"); len(lines) != 3 {
		t.Errorf("backups: %q", lines)
	}
	mustFail(t, run(t, older, "", args("restore", "--protocol", "v1")...), "404")
}

// backupIDOf returns the backup id at the end of upgrade --into-account's line.
func backupIDOf(line string) string {
	fields := strings.Fields(line)
	if len(fields) == 0 || len(fields[len(fields)-1]) != 32 {
		return ""
	}
	return fields[len(fields)-1]
}
