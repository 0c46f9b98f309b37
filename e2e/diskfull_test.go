package e2e

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

// On a full disk saves fail with a clear 507 in the error shape, existing
// backups stay readable, /health says so, and saves work again as soon as
// space returns. The data directory is a 16 MiB tmpfs the test mounts, so it
// needs root (and skips without).
func TestDiskFull(t *testing.T) {
	if servertest.Postgres() {
		t.Skip("the disk that fills is SQLite's; PostgreSQL's is its server's (store/postgres maps its disk-full error)")
	}
	dir := smallFilesystem(t, "16m")
	p := start(t, dir, noLimits("DAILYREPS_MIN_FREE_DISK_BYTES=1048576", "DAILYREPS_HISTORY_DEPTH=2")...)
	a := newAPI(p.URL)
	user, kept, other := hexID("disk-full"), hexID("disk-full-kept"), hexID("disk-full-other")
	mustStatus(t, "register", http.StatusOK)(a.register(user))
	mustStatus(t, "save", http.StatusOK)(a.save(user, kept, sizedPayload(1, 1, 64<<10), ""))
	mustStatus(t, "save", http.StatusOK)(a.save(user, other, sizedPayload(2, 1, 64<<10), ""))

	filler := fill(t, dir)

	// Saves of every size, new and replacing, fail cleanly, again and again.
	for i, size := range []int{1 << 10, 64 << 10, 512 << 10, 2 << 20} {
		for _, key := range []string{other, hexID("disk-full-new")} {
			st, _, body, err := a.call("POST", "/api/backup", jsonBody("userId", user, "storageKey", key, "data", sizedPayload(3, i, size)))
			if err != nil {
				t.Fatalf("save of %d bytes on a full disk: %v", size, err)
			}
			if st != http.StatusInsufficientStorage && st != http.StatusServiceUnavailable {
				t.Fatalf("save of %d bytes on a full disk: %d %s\n%s", size, st, body, serverErrors(t, dir))
			}
			if err := errorShape(body); err != nil {
				t.Fatal(err)
			}
			if st != http.StatusInsufficientStorage {
				t.Errorf("save of %d bytes on a full disk: %d, want 507: %s", size, st, body)
			}
		}
	}
	for _, b := range []struct {
		key string
		k   int
	}{{kept, 1}, {other, 2}} {
		st, data, v, err := a.get(user, b.key, 0)
		if err != nil || st != http.StatusOK || v != 1 || data != sizedPayload(b.k, 1, 64<<10) {
			t.Fatalf("restore on a full disk: %d %v (version %d, %d bytes)", st, err, v, len(data))
		}
	}
	st, _, body, err := a.call("GET", "/health", nil)
	if err != nil || st != http.StatusServiceUnavailable || errorShape(body) != nil {
		t.Fatalf("/health on a full disk: %d %s %v", st, body, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "save once space returned", http.StatusOK)(a.save(user, other, sizedPayload(2, 2, 512<<10), ""))
	if st, data, v, _ := a.get(user, other, 0); st != http.StatusOK || v != 2 || data != sizedPayload(2, 2, 512<<10) {
		t.Fatalf("restore once space returned: %d version %d", st, v)
	}
	if st, _, body, _ := a.call("GET", "/health", nil); st != http.StatusOK {
		t.Fatalf("/health once space returned: %d %s", st, body)
	}
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.output())
	}
	integrityCheck(t, filepath.Join(dir, "data.db"))
}

// smallFilesystem mounts a tmpfs of size on a new directory, unmounted when
// the test ends; it skips the test when it cannot.
func smallFilesystem(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): %s", err, strings.TrimSpace(string(out)))
	}
	// Registered after TempDir's removal, so it runs before it, and after
	// the server (started later) is killed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until the filesystem has no byte left.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for chunk := 1 << 20; chunk > 0; chunk /= 2 {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Bavail != 0 {
		t.Fatalf("filesystem not full: %d blocks free, %v", st.Bavail, err)
	}
	return path
}
