package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const testPassword = "correct horse battery staple"

type result struct {
	stdout, stderr string
	err            error
}

// run executes the client command in-process with the given environment
// and standard input.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := newCommand(func(key string) (string, bool) {
		value, ok := env[key]
		return value, ok
	})
	var stdout, stderr bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return result{stdout.String(), stderr.String(), err}
}

func withPassword(extra ...string) map[string]string {
	env := map[string]string{EnvPassword: testPassword}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func mustSucceed(t *testing.T, r result) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("command failed: %v\nstderr: %s", r.err, r.stderr)
	}
	return r
}

// mustFail checks that a failure is reported as exactly one line.
func mustFail(t *testing.T, r result, wantInMessage string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("command succeeded; stdout: %s", r.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], wantInMessage) {
		t.Errorf("stderr = %q, want one line containing %q", r.stderr, wantInMessage)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSaveAndRestoreThroughFiles(t *testing.T) {
	_, server := newFakeServer(t, nil)
	env := withPassword()
	account := []string{"--server", server, "--username", "Alice"}
	const document = `{"exercises":[{"name":"push-ups","reps":[20,18]}],"streak":12}`

	r := mustSucceed(t, run(t, env, "", append([]string{"register"}, account...)...))
	if !strings.Contains(r.stdout, "registered Alice") {
		t.Errorf("register printed %q", r.stdout)
	}
	r = mustSucceed(t, run(t, env, "", append([]string{"save", writeFile(t, document)}, account...)...))
	if !strings.Contains(r.stdout, "saved version 1 at 2025-03-01T10:20:30Z") {
		t.Errorf("save printed %q", r.stdout)
	}

	out := filepath.Join(t.TempDir(), "restored.json")
	mustSucceed(t, run(t, env, "", append([]string{"restore", out}, account...)...))
	restored, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(restored) != document {
		t.Errorf("restored %q, want %q", restored, document)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("restored file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}

	// The username is case-insensitive, as in the web app.
	r = mustSucceed(t, run(t, env, "", "restore", "--server", server, "--username", "alice"))
	if r.stdout != document {
		t.Errorf("restore to stdout = %q, want %q", r.stdout, document)
	}
}

func TestSaveFromStdinAndRestoreAVersion(t *testing.T) {
	_, server := newFakeServer(t, nil)
	env := withPassword()
	account := []string{"--server", server, "--username", "bob"}
	mustSucceed(t, run(t, env, "", append([]string{"register"}, account...)...))
	mustSucceed(t, run(t, env, `{"v":1}`, append([]string{"save"}, account...)...))
	mustSucceed(t, run(t, env, `{"v":2}`, append([]string{"save"}, account...)...))

	r := mustSucceed(t, run(t, env, "", append([]string{"restore", "--version", "1"}, account...)...))
	if r.stdout != `{"v":1}` {
		t.Errorf("restore --version 1 = %q", r.stdout)
	}
	r = mustSucceed(t, run(t, env, "", append([]string{"versions"}, account...)...))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION") || !strings.HasPrefix(lines[1], "2 ") || !strings.HasPrefix(lines[2], "1 ") {
		t.Errorf("versions printed:\n%s", r.stdout)
	}
	mustFail(t, run(t, env, "", append([]string{"restore", "--version", "7"}, account...)...), "404")
	mustFail(t, run(t, env, "", append([]string{"restore", "--version", "-1"}, account...)...), "positive")
}

func TestWrongPasswordFindsNoBackup(t *testing.T) {
	_, server := newFakeServer(t, nil)
	account := []string{"--server", server, "--username", "carol"}
	mustSucceed(t, run(t, withPassword(), "", append([]string{"register"}, account...)...))
	mustSucceed(t, run(t, withPassword(), `{}`, append([]string{"save"}, account...)...))
	wrong := map[string]string{EnvPassword: "not it"}
	mustFail(t, run(t, wrong, "", append([]string{"restore"}, account...)...), "no such backup")
}

func TestSignedRequests(t *testing.T) {
	_, server := newFakeServer(t, []byte("signing secret"))
	account := []string{"--server", server, "--username", "dave"}
	mustFail(t, run(t, withPassword(), "", append([]string{"register"}, account...)...), "401")

	env := withPassword(EnvHMACSecret, "signing secret")
	mustSucceed(t, run(t, env, "", append([]string{"register"}, account...)...))
	mustSucceed(t, run(t, env, `{"ok":true}`, append([]string{"save"}, account...)...))
	if r := mustSucceed(t, run(t, env, "", append([]string{"restore"}, account...)...)); r.stdout != `{"ok":true}` {
		t.Errorf("restore = %q", r.stdout)
	}
}

func TestDelete(t *testing.T) {
	fake, server := newFakeServer(t, nil)
	env := withPassword()
	account := []string{"--server", server, "--username", "erin"}
	mustSucceed(t, run(t, env, "", append([]string{"register"}, account...)...))
	mustSucceed(t, run(t, env, `{}`, append([]string{"save"}, account...)...))

	before := fake.requestCount()
	mustFail(t, run(t, env, "", append([]string{"delete"}, account...)...), "--yes")
	if fake.requestCount() != before {
		t.Error("delete without --yes reached the server")
	}
	r := mustSucceed(t, run(t, env, "", append([]string{"delete", "--yes"}, account...)...))
	if !strings.Contains(r.stdout, "deleted erin") {
		t.Errorf("delete printed %q", r.stdout)
	}
	mustFail(t, run(t, env, "", append([]string{"restore"}, account...)...), "404")
}

func TestRegisterTwiceFails(t *testing.T) {
	_, server := newFakeServer(t, nil)
	args := []string{"register", "--server", server, "--username", "frank"}
	mustSucceed(t, run(t, withPassword(), "", args...))
	mustFail(t, run(t, withPassword(), "", args...), "already registered")
}

func TestMissingPasswordWithoutTerminal(t *testing.T) {
	fake, server := newFakeServer(t, nil)
	for _, env := range []map[string]string{{}, {EnvPassword: ""}} {
		mustFail(t, run(t, env, "", "restore", "--server", server, "--username", "gina"), EnvPassword)
	}
	if fake.requestCount() != 0 {
		t.Error("a request was sent without a password")
	}
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	mustFail(t, run(t, withPassword(), "", "versions", "--server", closed, "--username", "hal"), "connect")
}

func TestBadArguments(t *testing.T) {
	_, server := newFakeServer(t, nil)
	cases := map[string]struct {
		args []string
		want string
	}{
		"no username":       {[]string{"versions", "--server", server}, "--username is required"},
		"bad server URL":    {[]string{"versions", "--server", "127.0.0.1:8090", "--username", "x"}, "--server"},
		"unknown flag":      {[]string{"save", "--password", "hunter2", "--username", "x"}, "unknown flag"},
		"extra argument":    {[]string{"restore", "a", "b", "--username", "x"}, "accepts at most 1 arg"},
		"unknown command":   {[]string{"frobnicate"}, "unknown command"},
		"missing file":      {[]string{"save", filepath.Join(t.TempDir(), "absent.json"), "--username", "x"}, "absent.json"},
		"document not JSON": {[]string{"save", writeFile(t, "not json"), "--username", "x", "--server", server}, "not JSON"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mustFail(t, run(t, withPassword(), "", tc.args...), tc.want)
		})
	}
}

func TestRootWithoutSubcommandShowsHelp(t *testing.T) {
	r := mustSucceed(t, run(t, nil, ""))
	if !strings.Contains(r.stdout, EnvPassword) || !strings.Contains(r.stdout, "restore") {
		t.Errorf("help = %q", r.stdout)
	}
}

func TestPlainHTTPToAnotherHostWarns(t *testing.T) {
	for host, loopback := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "backup.example": false, "10.0.0.1": false} {
		if isLoopback(host) != loopback {
			t.Errorf("isLoopback(%q) = %v", host, !loopback)
		}
	}
	cmd := &cobra.Command{}
	var stderr bytes.Buffer
	cmd.SetErr(&stderr)
	s := &session{server: "http://backup.example", lookupEnv: func(string) (string, bool) { return "", false }}
	if _, err := s.client(cmd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "not HTTPS") {
		t.Errorf("no warning for plain HTTP to another host: %q", stderr.String())
	}
}

// Under PocketBase, the root command discards errors; each failure must
// still reach the user's stderr exactly once.
func TestErrorsPrintedOnceUnderPocketBaseRoot(t *testing.T) {
	_, server := newFakeServer(t, nil)
	for _, args := range [][]string{
		{"client", "restore", "--server", server, "--username", "nobody"},
		{"client", "save", "--bogus"},
		{"client", "versions", "extra"},
	} {
		root := &cobra.Command{Use: "dailyreps"}
		root.SetErr(io.Discard)
		cmd := newCommand(func(string) (string, bool) { return testPassword, true })
		var stdout, stderr bytes.Buffer
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		root.AddCommand(cmd)
		root.SetArgs(args)
		err := root.Execute()
		if err == nil {
			t.Fatalf("%v succeeded", args)
		}
		if !AlreadyReported(errors.Join(errors.New("cleanup"), err)) {
			t.Errorf("%v: main would print %q again", args, err)
		}
		if n := strings.Count(stderr.String(), "\n"); n != 1 || !strings.HasPrefix(stderr.String(), "dailyreps client ") {
			t.Errorf("%v printed %q, want one line naming the command", args, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v printed usage on stdout: %q", args, stdout.String())
		}
	}
}

func TestAlreadyReported(t *testing.T) {
	if AlreadyReported(errors.New("from elsewhere")) || AlreadyReported(nil) {
		t.Error("an error the client command never printed counts as reported")
	}
}

func TestNewCommandWritesErrorsToStderr(t *testing.T) {
	cmd := NewCommand()
	if cmd.ErrOrStderr() != os.Stderr {
		t.Error("errors would go to the parent's writer, which PocketBase discards")
	}
	want := map[string]bool{"register": true, "save": true, "restore": true, "versions": true, "delete": true}
	for _, sub := range cmd.Commands() {
		delete(want, sub.Name())
		for _, flag := range []string{"server", "username"} {
			if sub.Flags().Lookup(flag) == nil {
				t.Errorf("%s has no --%s", sub.Name(), flag)
			}
		}
		if f := sub.Flags().Lookup("server"); f != nil && f.DefValue != "http://127.0.0.1:8090" {
			t.Errorf("%s --server defaults to %s", sub.Name(), f.DefValue)
		}
	}
	if len(want) != 0 {
		t.Errorf("missing subcommands: %v", want)
	}
}

// executeArgsEnv makes the test binary run Execute, as main does, so that
// TestExecute can watch its exit status and output streams.
const executeArgsEnv = "CLIENTCMD_TEST_EXECUTE_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(executeArgsEnv); ok {
		if err := Execute(strings.Fields(args)); err != nil {
			if !AlreadyReported(err) {
				fmt.Fprintln(os.Stderr, "not reported:", err)
			}
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestExecute(t *testing.T) {
	cases := []struct {
		args       string
		wantStatus int
		wantStdout string
		wantStderr string
	}{
		{"--help", 0, "Back up and restore a DailyReps account", ""},
		{"versions", 1, "", " client versions: --username is required\n"},
		{"restore --bogus", 1, "", " client restore: unknown flag: --bogus\n"},
	}
	for _, tc := range cases {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), executeArgsEnv+"="+tc.args, EnvPassword+"=pw")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			status = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.wantStatus || !strings.Contains(stdout.String(), tc.wantStdout) ||
			(tc.wantStderr == "" && stderr.Len() != 0) || !strings.HasSuffix(stderr.String(), tc.wantStderr) ||
			strings.Count(stderr.String(), "\n") > 1 {
			t.Errorf("client %s: status %d, stdout %q, stderr %q", tc.args, status, stdout.String(), stderr.String())
		}
	}
}
