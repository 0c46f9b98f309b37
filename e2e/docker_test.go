package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/store/sqlite"
)

// container lays the release binary out as the image does, in a temporary
// root: the binary at the image's path, the data directory beside it.
type container struct {
	t       *testing.T
	img     image
	root    string // stands for the image's /
	binary  string
	dataDir string
	addr    string // the loopback address standing for 0.0.0.0:<port>
}

func newContainer(t *testing.T) *container {
	t.Helper()
	img := finalImage(t, dockerfile(t))
	root := t.TempDir()
	c := &container{t: t, img: img, root: root, addr: freeAddr(t)}
	c.binary, c.dataDir = c.path(img.binary), c.path(argAfter(img.cmd, "--dir"))
	if err := copyFile(releaseBinary(t), c.binary); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return c
}

// path maps an absolute path in the image into the temporary root.
func (c *container) path(imagePath string) string {
	return filepath.Join(c.root, filepath.FromSlash(imagePath))
}

// command is what the image runs for args (ENTRYPOINT + args) with its
// environment plus extra: image paths and the listen address mapped.
func (c *container) command(args []string, extra ...string) *exec.Cmd {
	mapped := make([]string, len(args))
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/"):
			mapped[i] = c.path(a)
		case a == "0.0.0.0:"+c.img.port:
			mapped[i] = c.addr
		default:
			mapped[i] = a
		}
	}
	cmd := exec.Command(c.binary, mapped...)
	cmd.Dir = c.path(c.img.workdir)
	cmd.Env = []string{"HOME=" + c.root}
	for k, v := range c.img.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// serve starts the image's CMD and waits for /health. The free-disk check
// is off, as in start: test machines' temporary directories can be small.
func (c *container) serve(extra ...string) *process {
	c.t.Helper()
	extra = append([]string{"DAILYREPS_MIN_FREE_DISK_BYTES=0"}, extra...)
	p := &process{URL: "http://" + c.addr, DataDir: c.dataDir, cmd: c.command(c.img.cmd, extra...),
		out: &syncBuffer{}, done: make(chan struct{}), t: c.t}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	c.t.Cleanup(p.kill)
	waitReady(c.t, p, 20*time.Second)
	return p
}

// healthcheck runs the image's HEALTHCHECK (the ENTRYPOINT's binary, as
// TestDockerfile checks) against the server's address.
func (c *container) healthcheck() (string, error) {
	args := append(slices.Clone(c.img.healthcheck[1:]), "--url", "http://"+c.addr+"/health")
	return run(c.t, c.command(args))
}

// Without DAILYREPS_PEPPER the image refuses to start, says why, and
// generates nothing.
func TestImageRequiresPepper(t *testing.T) {
	c := newContainer(t)
	msg, err := run(t, c.command(c.img.cmd))
	if code := exitCode(err); code == 0 {
		t.Fatalf("started without a pepper: %s", msg)
	}
	if !strings.Contains(msg, "DAILYREPS_PEPPER") || !strings.Contains(msg, "openssl rand -hex 32") {
		t.Fatalf("the refusal does not say what to do: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, pepper.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a pepper file was generated: %v", err)
	}
}

// The image's command serves, answers its own health check with the
// version the build stamped, lets `docker exec` create the first admin
// without --dir, and exits 0 on SIGTERM; the health check then fails.
func TestImageServes(t *testing.T) {
	c := newContainer(t)
	p := c.serve("DAILYREPS_PEPPER=" + testPepper)

	if out, err := c.healthcheck(); err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("HEALTHCHECK on a healthy server: %v %s", err, out)
	}
	resp, err := http.Get(p.URL + "/api/info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Version string }
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Unmarshal(b, &info) != nil || info.Version != releaseVersion {
		t.Fatalf("/api/info: %s, want version %q", b, releaseVersion)
	}

	// docker exec <container> /app/dailyreps-backup superuser upsert ...
	out, err := run(t, c.command([]string{"superuser", "upsert", "admin@example.com", "a long admin password"},
		"DAILYREPS_PEPPER="+testPepper))
	if err != nil {
		t.Fatalf("superuser upsert: %v %s", err, out)
	}
	if n := superusers(t, c.dataDir); n != 1 {
		t.Fatalf("%d superusers in the volume after superuser upsert", n)
	}

	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM: %s", code, p.output())
	}
	out2, err := c.healthcheck()
	if exitCode(err) == 0 || strings.Count(strings.TrimSpace(out2), "\n") != 0 || !strings.Contains(out2, "unhealthy") {
		t.Fatalf("HEALTHCHECK on a stopped server: %v %q", err, out2)
	}
}

// The release binary answers --help without touching a data directory.
func TestReleaseHelp(t *testing.T) {
	c := newContainer(t)
	out, err := run(t, c.command([]string{"--help"}, "DAILYREPS_PEPPER="+testPepper))
	if err != nil || !strings.Contains(out, "serve") || !strings.Contains(out, "health") {
		t.Fatalf("--help: %v %s", err, out)
	}
	if entries, _ := os.ReadDir(c.dataDir); len(entries) > 0 {
		t.Fatalf("--help wrote to the data directory: %v", entries)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// run runs a command that must exit by itself, killing it after a minute.
func run(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after a minute: %s", cmd.Args, out.String())
		return "", nil
	}
}

// superusers counts PocketBase's admins in a data directory.
func superusers(t *testing.T, dataDir string) int {
	t.Helper()
	db, err := sqlite.DBConnect(filepath.Join(dataDir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Select("COUNT(*)").From("_superusers").Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
