package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/servertest/lazyfs"
)

// The pepper file survives power cuts: the one the server writes on first
// start, once the server answered (a save acknowledged under it), and the
// pending file of a rotation, once the database was re-keyed with it. Either
// lost means every backup is unreadable. The rotation's cut comes right after
// the new pepper was renamed over the old one, before that rename is synced:
// running rotate-pepper again must finish the rotation from the pending file.
// It runs on the suite's backend.
func TestPowerLossPepperFile(t *testing.T) {
	f := lazyfs.MountForTest(t)
	dir := f.Dir()
	// The pepper file, created on first start; on PostgreSQL the re-key
	// commits outside the filesystem, so no SQLite sync of the data
	// directory comes to the rescue.
	env := append(noLimits("DAILYREPS_PEPPER="), suiteBackend(t).env()...)
	path := filepath.Join(dir, pepper.FileName)
	user, key := hexID("pepper-user"), hexID("pepper-key")

	p := start(t, dir, env...)
	a := newAPI(p.URL)
	if st, err := a.register(user); err != nil || st != http.StatusOK {
		t.Fatalf("register: %d %v", st, err)
	}
	mustSave(t, a, user, key, 1)
	created, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	powerCut(t, f, p)
	if b, err := os.ReadFile(path); err != nil || string(b) != string(created) {
		t.Fatalf("the pepper file the server created is lost or changed after a power cut (%v): every backup would be unreadable", err)
	}
	p = start(t, dir, env...)
	a = newAPI(p.URL)
	mustRestore(t, a, user, key, 1)
	mustSave(t, a, user, key, 2)
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d: %s", code, p.output())
	}

	// The power goes right after rotate-pepper renamed the pending file over
	// the pepper file: the database is re-keyed, the rename is not durable.
	f.FreezeAfter(func(op, p string) bool { return op == "rename" && p == pepper.FileName })
	out, err := rotatePepperProcess(t, dir, env)
	if !f.Frozen() {
		t.Fatalf("rotate-pepper never renamed the pepper file (%v): %s", err, out)
	}
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + pepper.PendingSuffix); err != nil {
		t.Fatalf("the pending pepper of a re-keyed database is lost after a power cut (%v): every backup would be unreadable", err)
	}
	if out, err := rotatePepperProcess(t, dir, env); err != nil {
		t.Fatalf("rotate-pepper after the power cut: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) == string(created) {
		t.Fatalf("the pepper file after the finished rotation: %v (unchanged: %v)", err, string(b) == string(created))
	}
	p = start(t, dir, env...)
	a = newAPI(p.URL)
	mustRestore(t, a, user, key, 2)
	mustRestore(t, a, user, key, 1)
}

// rotatePepperProcess runs rotate-pepper on dataDir as an operator would.
func rotatePepperProcess(t *testing.T, dataDir string, env []string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), "rotate-pepper", "--dir", dataDir)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	return run(t, cmd)
}

func mustSave(t *testing.T, a *api, user, key string, seq int) {
	t.Helper()
	if st, v, err := a.save(user, key, payload(0, seq), ""); err != nil || st != http.StatusOK || v != int64(seq) {
		t.Fatalf("save %d: %d version %d %v", seq, st, v, err)
	}
}

// mustRestore reads version seq back byte for byte.
func mustRestore(t *testing.T, a *api, user, key string, seq int) {
	t.Helper()
	st, data, v, err := a.get(user, key, int64(seq))
	if err != nil || st != http.StatusOK || v != int64(seq) || data != payload(0, seq) {
		t.Fatalf("restore version %d: %d version %d %v (%d bytes)", seq, st, v, err, len(data))
	}
}
