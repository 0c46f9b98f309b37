package clientcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// The commands against the real server, signing on, as a script would run
// them: everything through flags, files and the environment.
func TestCommandsAgainstTheServer(t *testing.T) {
	const secret = "the operator's signing secret"
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.HMACSecret = []byte(secret)
		// servertest's clock stands still, so no bucket would refill.
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
	}))
	env := withPassword(EnvHMACSecret, secret)
	account := []string{"--server", s.URL, "--username", "Mona-ΟΔΥΣΣΕΥΣ"}
	args := func(command string, rest ...string) []string {
		return append(append([]string{command}, rest...), account...)
	}
	dir := t.TempDir()

	mustSucceed(t, run(t, env, "", args("register")...))
	mustFail(t, run(t, env, "", args("register")...), "already registered")
	mustFail(t, run(t, map[string]string{EnvPassword: testPassword}, "", args("versions")...), "401")

	// Byte for byte: whitespace, line endings and escapes as in the file.
	first := []byte("{\r\n\t\"workouts\": [{\"day\": \"2025-06-01\", \"reps\": [20, 18]}],\n  \"note\": \"Gr\\u00fc\\u00dfe 💪\"\n}\n")
	firstPath := filepath.Join(dir, "export.json")
	if err := os.WriteFile(firstPath, first, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustSucceed(t, run(t, env, "", args("save", firstPath)...)); !strings.HasPrefix(r.stdout, "saved version 1 at ") {
		t.Errorf("save printed %q", r.stdout)
	}
	second := `{"streak":2}`
	mustSucceed(t, run(t, env, second, args("save")...))

	restoredPath := filepath.Join(dir, "restored.json")
	// Twice, as a script might: the second run repeats the first request.
	for range 2 {
		mustSucceed(t, run(t, env, "", args("restore", "--version", "1", restoredPath)...))
		if restored, err := os.ReadFile(restoredPath); err != nil || !bytes.Equal(restored, first) {
			t.Fatalf("restored %q, %v; want %q", restored, err, first)
		}
	}
	// The username is case-insensitive as the web app lower-cases it.
	sameAccount := []string{"--server", s.URL, "--username", "mona-οδυσσευς"}
	if r := mustSucceed(t, run(t, env, "", append([]string{"restore"}, sameAccount...)...)); r.stdout != second {
		t.Errorf("restore to stdout = %q, want %q", r.stdout, second)
	}

	r := mustSucceed(t, run(t, env, "", args("versions")...))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") || !strings.HasPrefix(lines[2], "1 ") {
		t.Errorf("versions printed:\n%s", r.stdout)
	}

	wrong := map[string]string{EnvPassword: "not it", EnvHMACSecret: secret}
	mustFail(t, run(t, wrong, "", args("restore")...), "404")

	mustSucceed(t, run(t, env, "", args("delete", "--yes")...))
	mustFail(t, run(t, env, "", args("restore")...), "404")
	mustFail(t, run(t, env, "", args("versions")...), "404")
}
