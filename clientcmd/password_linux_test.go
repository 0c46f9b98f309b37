package clientcmd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openTerminal returns both ends of a fresh pseudo-terminal, so that the
// no-echo prompt runs against a real terminal.
func openTerminal(t *testing.T) (controller, terminal *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { controller.Close() })
	// SyscallConn rather than Fd, which would make the controller blocking
	// and keep Close from interrupting the reader below.
	raw, err := controller.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioctlErr error
	err = raw.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil || ioctlErr != nil {
		t.Skipf("cannot set up pseudo-terminal: %v %v", err, ioctlErr)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { terminal.Close() })
	// The terminal echoes nothing once the prompt is up, but it may echo
	// what is typed before; keep its output from filling up.
	go io.Copy(io.Discard, controller)
	return controller, terminal
}

// runOnTerminal runs the command with standard input on a terminal where
// the user types typed.
func runOnTerminal(t *testing.T, env map[string]string, typed string, args ...string) result {
	t.Helper()
	controller, terminal := openTerminal(t)
	if _, err := io.WriteString(controller, typed); err != nil {
		t.Fatal(err)
	}
	cmd := newCommand(func(key string) (string, bool) { v, ok := env[key]; return v, ok })
	var stdout, stderr strings.Builder
	cmd.SetIn(terminal)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return result{stdout.String(), stderr.String(), err}
}

func TestPasswordPrompt(t *testing.T) {
	fake, server := newFakeServer(t, nil)
	account := []string{"--server", server, "--username", "ivy"}

	r := runOnTerminal(t, nil, testPassword+"\n"+testPassword+"\n", append([]string{"register"}, account...)...)
	mustSucceed(t, r)
	if strings.Count(r.stderr, "Password") != 2 || strings.Contains(r.stderr, testPassword) {
		t.Errorf("register prompts = %q, want two prompts and no echo", r.stderr)
	}

	// The prompted password is the same account as the one from the environment.
	mustSucceed(t, run(t, withPassword(), `{"typed":true}`, append([]string{"save"}, account...)...))
	r = mustSucceed(t, runOnTerminal(t, nil, testPassword+"\n", append([]string{"restore"}, account...)...))
	if r.stdout != `{"typed":true}` {
		t.Errorf("restore with the prompted password = %q", r.stdout)
	}

	before := fake.requestCount()
	cases := map[string]struct {
		typed, want string
		args        []string
	}{
		"mismatch":    {"one\ntwo\n", "do not match", []string{"register"}},
		"empty":       {"\n", "empty", []string{"versions"}},
		"mismatch v2": {testPassword + "\n\n", "do not match", []string{"register"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := runOnTerminal(t, nil, tc.typed, append(tc.args, account...)...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("typing %q gave %v, want an error about %q", tc.typed, r.err, tc.want)
			}
		})
	}
	if fake.requestCount() != before {
		t.Error("a request was sent after a refused password")
	}
}

func TestPasswordPromptOnHungUpTerminal(t *testing.T) {
	controller, terminal := openTerminal(t)
	cmd := newCommand(func(string) (string, bool) { return "", false })
	cmd.SetIn(terminal)
	// Hang up as soon as the prompt appears, as a closed terminal window does.
	cmd.SetErr(writerFunc(func(p []byte) (int, error) {
		controller.Close()
		return len(p), nil
	}))
	cmd.SetArgs([]string{"versions", "--username", "jay"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "read password") {
		t.Errorf("hung-up terminal gave %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
