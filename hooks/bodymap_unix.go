//go:build unix

package hooks

import "golang.org/x/sys/unix"

// mapBody returns an anonymous private mapping of size bytes, or nil when
// the kernel refuses one (the caller then reads into the heap). Its pages
// cost nothing until written.
func mapBody(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}
