//go:build unix && bodyguard

package hooks

import "golang.org/x/sys/unix"

// unmapBody, in the tests' build (-tags bodyguard), gives the mapping's
// pages back but keeps its addresses reserved with no access: any use of a
// body after its release faults at once, where an unmapped range could be
// mapped again for another request and read silently.
func unmapBody(b []byte) {
	b = b[:cap(b)]
	if err := unix.Madvise(b, unix.MADV_DONTNEED); err != nil {
		panic("releasing a request body: " + err.Error())
	}
	if err := unix.Mprotect(b, unix.PROT_NONE); err != nil {
		panic("guarding a released request body: " + err.Error())
	}
}
