package clientcmd

import (
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dailyreps/backup/client/v2fake"
)

// codeTyper is standard error on a terminal where a person types back the
// recovery code once it appears (or typed, when set).
type codeTyper struct {
	controller *os.File
	typed      string
	mu         sync.Mutex
	out        strings.Builder
	done       bool
}

func (c *codeTyper) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(p)
	if code := codePattern.FindString(c.out.String()); code != "" && !c.done && strings.Contains(c.out.String(), "Type the recovery code") {
		c.done = true
		if c.typed != "" {
			code = c.typed
		}
		// Lower case with spaces, as a person copies it.
		_, _ = io.WriteString(c.controller, strings.ToLower(strings.ReplaceAll(code, "-", " "))+"\n")
	}
	return len(p), nil
}

func registerOnTerminal(t *testing.T, server, username, typedCode string, env map[string]string) (result, string) {
	t.Helper()
	controller, terminal := openTerminal(t)
	if _, err := io.WriteString(controller, testPassword+"\n"+testPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	cmd := newCommand(func(key string) (string, bool) { v, ok := env[key]; return v, ok })
	stderr := &codeTyper{controller: controller, typed: typedCode}
	var stdout strings.Builder
	cmd.SetIn(terminal)
	cmd.SetOut(&stdout)
	cmd.SetErr(stderr)
	cmd.SetArgs([]string{"register", "--server", server, "--username", username})
	err := cmd.Execute()
	stderr.mu.Lock()
	defer stderr.mu.Unlock()
	return result{stdout.String(), stderr.out.String(), err}, stderr.out.String()
}

func TestRegisterOnTerminalConfirmsTheRecoveryCode(t *testing.T) {
	f := v2fake.New(t)
	env := map[string]string{EnvConfigDir: t.TempDir()}

	// A code typed wrong: nothing is sent, nothing is kept.
	r, _ := registerOnTerminal(t, f.URL, "uma", "0000-0000-0000-0000-0000-0000-0000-0000", env)
	if r.err == nil || !strings.Contains(r.err.Error(), "nothing was changed") {
		t.Fatalf("a wrong code: %v", r.err)
	}
	if f.Count("POST /api/v2/register") != 0 || len(storedSessions(t, env)) != 0 {
		t.Fatal("a registration was sent with an unconfirmed code")
	}

	r, stderr := registerOnTerminal(t, f.URL, "uma", "", env)
	mustSucceed(t, r)
	code := codePattern.FindString(stderr)
	if r.stdout != "registered uma (protocol v2)\n" || strings.Count(stderr, code) != 1 || strings.Contains(stderr, testPassword) {
		t.Errorf("stdout %q, stderr %q", r.stdout, stderr)
	}
	if len(f.Accounts) != 1 || len(storedSessions(t, env)) != 1 {
		t.Errorf("%d accounts, %d sessions kept", len(f.Accounts), len(storedSessions(t, env)))
	}

	// A server without v2 gets a v1 registration, as before.
	f.Protocols = []string{"v1"}
	env[EnvConfigDir] = t.TempDir()
	r, _ = registerOnTerminal(t, f.URL, "vera", "", env)
	mustSucceed(t, r)
	if r.stdout != "registered vera\n" || f.Count("POST /api/register") != 1 || len(storedSessions(t, env)) != 0 {
		t.Errorf("register on a v1 server: %q, %d v1 registrations", r.stdout, f.Count("POST /api/register"))
	}
}
