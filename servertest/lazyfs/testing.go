package lazyfs

import "testing"

// MountForTest mounts an empty filesystem in a temporary directory of t and
// unmounts it when t ends. It fails, never skips, where FUSE cannot mount:
// the power-loss tests run in CI, as root.
func MountForTest(t testing.TB) *FS {
	t.Helper()
	f, err := Mount(t.TempDir())
	if err != nil {
		t.Fatalf("%v: the power-loss tests need root and /dev/fuse", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f
}
