//go:build unix && !bodyguard

package hooks

import "golang.org/x/sys/unix"

// unmapBody gives a mapping from mapBody back to the kernel. b may be any
// prefix of it: the whole mapping is unmapped.
func unmapBody(b []byte) {
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		panic("unmapping a request body: " + err.Error()) // only a mapping of mapBody's is given
	}
}
