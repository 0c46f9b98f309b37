// Package e2e tests the server as a process: built once, started with
// environment variables and flags as an operator would, signalled and killed.
package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	if releaseDir != "" {
		_ = os.RemoveAll(releaseDir)
	}
	os.Exit(code)
}

// binary builds the server once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dailyreps-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dailyreps-backup")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// testPepper is 64 hex characters.
const testPepper = "4242424242424242424242424242424242424242424242424242424242424242"

// process is a running server.
type process struct {
	URL     string
	DataDir string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	t       testing.TB
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs `serve` on a free port with env added to a minimal
// environment (DAILYREPS_PEPPER set unless env sets it), on dataDir (a new
// one when empty), and waits for /health.
func start(t testing.TB, dataDir string, env ...string) *process {
	t.Helper()
	return startBinary(t, binary(t), dataDir, env...)
}

// startBinary is start with another build of the server.
func startBinary(t testing.TB, bin, dataDir string, env ...string) *process {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--dir", dataDir)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DAILYREPS_PEPPER=" + testPepper, "DAILYREPS_MIN_FREE_DISK_BYTES=0"}, env...)
	p := &process{URL: "http://" + addr, DataDir: dataDir, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{}), t: t}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	waitReady(t, p, 20*time.Second)
	return p
}

// waitReady polls /health until it answers 200, failing the test when the
// process exits first or limit passes.
func waitReady(t testing.TB, p *process, limit time.Duration) {
	t.Helper()
	probe := &http.Client{Timeout: 500 * time.Millisecond}
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("server exited: %s", p.output())
		default:
		}
		status := 0
		if resp, err := probe.Get(p.URL + "/health"); err == nil {
			resp.Body.Close()
			if status = resp.StatusCode; status == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health not 200 (last %d) after %v: %s", status, limit, p.output())
		}
	}
}

// kill ends the process at once (SIGKILL), as a crash or power cut would.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// terminate sends SIGTERM and waits for the exit, returning its code.
func (p *process) terminate(timeout time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("no exit %v after SIGTERM: %s", timeout, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// output is what the process printed so far.
func (p *process) output() string { return p.out.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
