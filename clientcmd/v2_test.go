package clientcmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2fake"
)

// The protocol v2 commands against v2fake, which checks the wire format;
// v2_server_test.go runs them against the real server.

// codePattern finds a recovery code in a command's output.
var codePattern = regexp.MustCompile(`[0-9A-Z]{4}(-[0-9A-Z]{4}){7}`)

// v2Env is the environment of one device: its own configuration directory.
func v2Env(t *testing.T, extra ...string) map[string]string {
	env := withPassword(append([]string{EnvConfigDir, t.TempDir()}, extra...)...)
	return env
}

func storedSessions(t *testing.T, env map[string]string) map[string]client.SessionState {
	t.Helper()
	sessions, err := loadSessions(env[EnvConfigDir])
	if err != nil {
		t.Fatal(err)
	}
	return sessions
}

func TestV2CommandsEndToEnd(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "Olga"}
	args := func(command string, rest ...string) []string {
		return append(append([]string{command}, rest...), account...)
	}

	r := mustSucceed(t, run(t, env, "", args("register", "--protocol", "v2")...))
	if r.stdout != "registered Olga (protocol v2)\n" {
		t.Errorf("register printed %q", r.stdout)
	}
	code := codePattern.FindString(r.stderr)
	if code == "" || strings.Count(r.stderr, code) != 1 {
		t.Fatalf("the recovery code is not shown once on stderr: %q", r.stderr)
	}
	info, err := os.Stat(filepath.Join(env[EnvConfigDir], sessionsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("sessions file: %v, %v", info, err)
	}
	if len(storedSessions(t, env)) != 1 {
		t.Fatal("no session kept")
	}

	// With the session kept, save and restore speak v2 by themselves.
	r = mustSucceed(t, run(t, env, `{"day":1}`, args("save")...))
	if !strings.HasPrefix(r.stdout, "saved version 1 at ") {
		t.Errorf("save printed %q", r.stdout)
	}
	mustSucceed(t, run(t, env, `{"day":2}`, args("save")...))
	if n := f.Count("POST /api/v2/login"); n != 0 {
		t.Errorf("%d logins with a live session", n)
	}
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"day":2}` {
		t.Errorf("restore = %q", got)
	}
	if got := mustSucceed(t, run(t, env, "", args("restore", "--version", "1")...)).stdout; got != `{"day":1}` {
		t.Errorf("restore --version 1 = %q", got)
	}
	lines := strings.Split(strings.TrimSpace(mustSucceed(t, run(t, env, "", args("versions")...)).stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") {
		t.Errorf("versions:\n%s", strings.Join(lines, "\n"))
	}
	lines = strings.Split(strings.TrimSpace(mustSucceed(t, run(t, env, "", args("backups")...)).stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "BACKUP") || !strings.Contains(lines[1], " 2 ") {
		t.Errorf("backups:\n%s", strings.Join(lines, "\n"))
	}

	// A wrong password is refused before anything is opened.
	wrong := map[string]string{EnvPassword: "not it", EnvConfigDir: env[EnvConfigDir]}
	mustFail(t, run(t, wrong, "", args("restore")...), "rong username or password")

	// The password changes; the old one stops working at once.
	next := map[string]string{EnvPassword: testPassword, EnvNewPassword: "second password", EnvConfigDir: env[EnvConfigDir]}
	mustSucceed(t, run(t, next, "", args("passwd")...))
	mustFail(t, run(t, env, "", args("restore")...), "rong username or password")
	env[EnvPassword] = "second password"
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"day":2}` {
		t.Errorf("restore after passwd = %q", got)
	}

	// Recovery with the code sets a third password and shows a new code.
	rec := map[string]string{EnvRecoveryCode: strings.ToLower(code), EnvNewPassword: "third password", EnvConfigDir: env[EnvConfigDir]}
	r = mustSucceed(t, run(t, rec, "", args("recover")...))
	if newCode := codePattern.FindString(r.stderr); newCode == "" || newCode == code {
		t.Errorf("recover showed %q", r.stderr)
	}
	mustFail(t, run(t, rec, "", args("recover")...), "rong username or password")
	env[EnvPassword] = "third password"
	if got := mustSucceed(t, run(t, env, "", args("restore")...)).stdout; got != `{"day":2}` {
		t.Errorf("restore after recover = %q", got)
	}

	// Logout forgets the session; the next v2 command signs in again.
	mustSucceed(t, run(t, env, "", args("logout")...))
	if len(storedSessions(t, env)) != 0 {
		t.Error("logout kept the session")
	}
	logins := f.Count("POST /api/v2/login")
	mustSucceed(t, run(t, env, "", args("versions", "--protocol", "v2")...))
	if f.Count("POST /api/v2/login") != logins+1 || len(storedSessions(t, env)) != 1 {
		t.Error("versions --protocol v2 did not sign in")
	}

	// Deletion asks for --yes before any request, and for the password.
	before := len(f.Requests)
	mustFail(t, run(t, env, "", args("delete-account")...), "--yes")
	if len(f.Requests) != before {
		t.Error("delete-account without --yes reached the server")
	}
	mustSucceed(t, run(t, env, "", args("delete", "--yes")...))
	if len(f.Accounts) != 0 || len(storedSessions(t, env)) != 0 {
		t.Errorf("after delete: %d accounts, %d sessions kept", len(f.Accounts), len(storedSessions(t, env)))
	}
}

func TestV2EndedSessionSignsInAgain(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "pia"}
	mustSucceed(t, run(t, env, "", append([]string{"register", "--protocol", "v2"}, account...)...))
	// Another device changed the password: every session ended.
	f.Lock()
	clear(f.Sessions)
	f.Unlock()
	before := storedSessions(t, env)
	mustSucceed(t, run(t, env, `{"again":true}`, append([]string{"save"}, account...)...))
	after := storedSessions(t, env)
	for k := range before {
		if before[k].Token == after[k].Token {
			t.Error("the ended session was kept")
		}
	}
	if f.Count("POST /api/v2/login") != 1 {
		t.Errorf("%d logins", f.Count("POST /api/v2/login"))
	}
}

func TestV2RestoreRefusesARollback(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "quinn"}
	mustSucceed(t, run(t, env, "", append([]string{"register", "--protocol", "v2"}, account...)...))
	for _, doc := range []string{`{"n":1}`, `{"n":2}`} {
		mustSucceed(t, run(t, env, doc, append([]string{"save"}, account...)...))
	}
	// The server drops the newest version and serves the older one.
	f.Lock()
	for _, b := range f.Accounts[client.UserID("quinn")].Backups {
		b.Versions = b.Versions[:1]
	}
	f.Unlock()
	out := filepath.Join(t.TempDir(), "restored.json")
	mustFail(t, run(t, env, "", append([]string{"restore", out}, account...)...), "--allow-rollback")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a rolled-back version was written: %v", err)
	}
	r := mustSucceed(t, run(t, env, "", append([]string{"restore", "--allow-rollback", out}, account...)...))
	if got, _ := os.ReadFile(out); string(got) != `{"n":1}` || !strings.Contains(r.stderr, "warning") {
		t.Errorf("with --allow-rollback: %q, stderr %q", got, r.stderr)
	}
}

func TestV2SeveralBackupsNeedAChoice(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "rosa"}
	mustSucceed(t, run(t, env, "", append([]string{"register", "--protocol", "v2"}, account...)...))
	mustFail(t, run(t, env, "", append([]string{"restore"}, account...)...), "no backup yet")
	first, second := client.NewBackupID(), client.NewBackupID()
	mustSucceed(t, run(t, env, `{"b":1}`, append([]string{"save", "--backup", first}, account...)...))
	mustSucceed(t, run(t, env, `{"b":2}`, append([]string{"save", "--backup", second}, account...)...))
	mustFail(t, run(t, env, "", append([]string{"restore"}, account...)...), "choose one with --backup")
	if got := mustSucceed(t, run(t, env, "", append([]string{"restore", "--backup", second}, account...)...)).stdout; got != `{"b":2}` {
		t.Errorf("restore --backup = %q", got)
	}
	mustFail(t, run(t, env, "", append([]string{"restore", "--backup", "NOT-AN-ID"}, account...)...), "32 lowercase hex")
}

func TestV2UpgradeCommand(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "sven"}
	// A v1 backup, saved the way scripts always did.
	mustSucceed(t, run(t, env, `{"v1":true}`, append([]string{"save"}, account...)...))
	if len(storedSessions(t, env)) != 0 || len(f.V1) != 1 {
		t.Fatal("a v1 save changed the v2 state")
	}
	codeFile := filepath.Join(t.TempDir(), "code.txt")
	r := mustSucceed(t, run(t, env, "", append([]string{"upgrade", "--recovery-code-file", codeFile}, account...)...))
	if r.stdout != "upgraded sven to protocol v2\n" || codePattern.MatchString(r.stderr) {
		t.Errorf("upgrade printed %q, stderr %q", r.stdout, r.stderr)
	}
	if raw, err := os.ReadFile(codeFile); err != nil || !codePattern.Match(raw) {
		t.Errorf("code file: %q, %v", raw, err)
	}
	if info, _ := os.Stat(codeFile); info.Mode().Perm() != 0o600 {
		t.Errorf("code file mode %v", info.Mode().Perm())
	}
	if got := mustSucceed(t, run(t, env, "", append([]string{"restore"}, account...)...)).stdout; got != `{"v1":true}` {
		t.Errorf("restore after upgrade = %q", got)
	}
	// A v1 save now is refused, with what to do about it.
	mustFail(t, run(t, env, `{}`, append([]string{"save", "--protocol", "v1"}, account...)...), "login")
	// Without a v1 backup there is nothing to upgrade.
	mustFail(t, run(t, v2Env(t), "", "upgrade", "--server", f.URL, "--username", "nobody"), "404")
}

func TestV2CommandRefusals(t *testing.T) {
	f := v2fake.New(t)
	env := v2Env(t)
	account := []string{"--server", f.URL, "--username", "tove"}
	mustFail(t, run(t, env, "", append([]string{"save", "--protocol", "v3"}, account...)...), "--protocol")
	mustFail(t, run(t, env, "", append([]string{"login"}, account...)...), "rong username or password")
	mustFail(t, run(t, map[string]string{EnvPassword: testPassword}, "", append([]string{"login"}, account...)...), EnvConfigDir)
	mustFail(t, run(t, env, "", append([]string{"recover"}, account...)...), EnvRecoveryCode)
	mustFail(t, run(t, withPassword(EnvConfigDir, env[EnvConfigDir], EnvRecoveryCode, "short", EnvNewPassword, "x"), "", append([]string{"recover"}, account...)...), "32 letters")
	mustFail(t, run(t, env, "", append([]string{"passwd"}, account...)...), "rong username or password")
	f.Protocols = []string{"v1"}
	mustFail(t, run(t, env, "", append([]string{"register", "--protocol", "v2"}, account...)...), "does not speak protocol v2")
	if len(f.Accounts) != 0 {
		t.Error("an account was created")
	}
	// A damaged sessions file is reported, not overwritten.
	path := filepath.Join(env[EnvConfigDir], sessionsFile)
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustFail(t, run(t, env, "", append([]string{"versions"}, account...)...), "damaged")
	if raw, _ := os.ReadFile(path); string(raw) != "{" {
		t.Error("the damaged file was rewritten")
	}
}
