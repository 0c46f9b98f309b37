package lazyfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mount mounts a fresh filesystem for one test. It fails, never skips, where
// FUSE cannot mount: CI runs as root and must run these tests.
func mount(t *testing.T) *FS {
	t.Helper()
	f, err := Mount(t.TempDir())
	if err != nil {
		t.Fatalf("%v (the power-loss tests need root and /dev/fuse)", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func writeFile(t *testing.T, path string, data []byte, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func cutNow(t *testing.T, f *FS) {
	t.Helper()
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
}

func wantContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("after the cut: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after the cut %s holds %d bytes %.20q, want %d bytes %.20q", filepath.Base(path), len(got), got, len(want), want)
	}
}

func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after the cut %s: %v, want it gone", filepath.Base(path), err)
	}
}

// big is content over several pages, not page aligned.
func big(b byte) []byte { return bytes.Repeat([]byte{b, b + 1, b + 2}, 5000) }

func TestUnsyncedWriteLost(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "a")
	writeFile(t, p, big('a'), true)
	syncDir(t, f.Dir())
	writeFile(t, p, big('x'), false) // truncated and rewritten, never synced
	if got, _ := os.ReadFile(p); !bytes.Equal(got, big('x')) {
		t.Fatal("the live state does not read back what was written")
	}
	cutNow(t, f)
	wantContent(t, p, big('a'))
}

func TestSyncedWriteKept(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "a")
	writeFile(t, p, big('a'), true)
	syncDir(t, f.Dir())
	writeFile(t, p, []byte("short"), true)
	cutNow(t, f)
	wantContent(t, p, []byte("short"))
	// A second cut keeps it too: what survived is durable.
	cutNow(t, f)
	wantContent(t, p, []byte("short"))
}

// A write in the middle of a synced file, then a sync of only part of the
// story: pages written after the sync are lost, those before it are kept.
func TestPartialRewrite(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "a")
	writeFile(t, p, big('a'), true)
	syncDir(t, f.Dir())
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	synced := append([]byte(nil), big('a')...)
	copy(synced[5000:], "synced")
	if _, err := fh.WriteAt([]byte("synced"), 5000); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("lost"), 9000); err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(100); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	cutNow(t, f)
	wantContent(t, p, synced)
}

func TestCreatedFileWithoutDirSyncLost(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "new")
	writeFile(t, p, []byte("data"), true) // the file is synced, its name is not
	cutNow(t, f)
	wantGone(t, p)
}

func TestRenameWithoutDirSyncLost(t *testing.T) {
	f := mount(t)
	dst, tmp := filepath.Join(f.Dir(), "file"), filepath.Join(f.Dir(), "file.tmp")
	writeFile(t, dst, []byte("old"), true)
	syncDir(t, f.Dir())
	writeFile(t, tmp, []byte("new"), true)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	cutNow(t, f)
	wantContent(t, dst, []byte("old"))
	wantGone(t, tmp)
}

func TestRenameWithDirSyncKept(t *testing.T) {
	f := mount(t)
	dst, tmp := filepath.Join(f.Dir(), "file"), filepath.Join(f.Dir(), "file.tmp")
	writeFile(t, dst, []byte("old"), true)
	syncDir(t, f.Dir())
	writeFile(t, tmp, []byte("new"), true)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	syncDir(t, f.Dir())
	cutNow(t, f)
	wantContent(t, dst, []byte("new"))
	wantGone(t, tmp)
}

// Directories follow the same rule: a subdirectory exists for good once
// its parent is synced, its entries once it is.
func TestSubdirectories(t *testing.T) {
	f := mount(t)
	sub := filepath.Join(f.Dir(), "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	syncDir(t, f.Dir())
	writeFile(t, filepath.Join(sub, "kept"), []byte("k"), true)
	syncDir(t, sub)
	writeFile(t, filepath.Join(sub, "lost"), []byte("l"), true)
	if err := os.Mkdir(filepath.Join(f.Dir(), "lostdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	cutNow(t, f)
	wantContent(t, filepath.Join(sub, "kept"), []byte("k"))
	wantGone(t, filepath.Join(sub, "lost"))
	wantGone(t, filepath.Join(f.Dir(), "lostdir"))
}

func TestUnlinkWithoutDirSyncUndone(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "a")
	writeFile(t, p, []byte("a"), true)
	syncDir(t, f.Dir())
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	cutNow(t, f)
	wantContent(t, p, []byte("a"))
}

// A trap freezes the filesystem right after the operation it names: that
// operation is durable, nothing after it is, and the program sees EIO.
func TestFreezeAfter(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Dir(), "a")
	f.FreezeAfter(func(op, path string) bool { return op == "fsync" && path == "" })
	writeFile(t, p, []byte("a"), true)
	syncDir(t, f.Dir()) // fires the trap
	if !f.Frozen() {
		t.Fatal("the trap did not fire")
	}
	err := os.WriteFile(filepath.Join(f.Dir(), "b"), []byte("b"), 0o600)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("a write after the freeze: %v, want EIO", err)
	}
	cutNow(t, f)
	wantContent(t, p, []byte("a"))
	wantGone(t, filepath.Join(f.Dir(), "b"))
	// The filesystem works again after the cut.
	writeFile(t, filepath.Join(f.Dir(), "c"), []byte("c"), true)
	if entries, err := os.ReadDir(f.Dir()); err != nil || len(entries) != 2 || !strings.Contains(entries[0].Name()+entries[1].Name(), "c") {
		t.Fatalf("after the cut: %v %v", entries, err)
	}
}
