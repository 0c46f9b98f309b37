// Package lazyfs is a FUSE filesystem that forgets, at a simulated power
// cut, everything that was not synced: the model of a disk whose volatile
// cache is lost with the power, after LazyFS (the tool Jepsen and the
// PostgreSQL and etcd communities use to find missing fsyncs).
//
// Every file and directory has a live state, what programs see, and a
// durable state, what survives a cut. fsync or fdatasync of a file makes its
// content, size and mode durable; fsync of a directory makes its entries
// durable, so a file created, renamed or removed is created, renamed or
// removed for good only once its directory is synced, as POSIX promises and
// no more. Cut drops every live state and mounts the durable one again.
//
// Everything lives in memory, in 4 KiB pages shared between the two states
// until written (copy on write), so a sync costs a copy of page pointers.
package lazyfs

import (
	"maps"
	"slices"
	"time"
)

const pageSize = 4096

type page [pageSize]byte

// node is a file or a directory. Its identity (ino) outlives its names: a
// durable entry may point at it under a name the live tree no longer uses.
type node struct {
	ino   uint64
	dir   bool
	mtime time.Time

	// Live state.
	mode    uint32 // permission bits
	pages   []*page
	size    int64
	entries map[string]*node

	// Durable state.
	dMode    uint32
	dPages   []*page
	dSize    int64
	dEntries map[string]*node
}

func newNode(ino uint64, dir bool, mode uint32) *node {
	n := &node{ino: ino, dir: dir, mode: mode, dMode: mode, mtime: time.Now()}
	if dir {
		n.entries, n.dEntries = map[string]*node{}, map[string]*node{}
	}
	return n
}

// read copies the live content at off into dest.
func (n *node) read(dest []byte, off int64) int {
	if off >= n.size {
		return 0
	}
	end := min(n.size, off+int64(len(dest)))
	for pos := off; pos < end; {
		i, o := pos/pageSize, pos%pageSize
		chunk := min(end-pos, pageSize-o)
		d := dest[pos-off : pos-off+chunk]
		if i < int64(len(n.pages)) && n.pages[i] != nil {
			copy(d, n.pages[i][o:o+chunk])
		} else {
			clear(d)
		}
		pos += chunk
	}
	return int(end - off)
}

// writable returns page i of the live content, copied first if the durable
// state shares it.
func (n *node) writable(i int64) *page {
	for int64(len(n.pages)) <= i {
		n.pages = append(n.pages, nil)
	}
	p := n.pages[i]
	if p == nil || i < int64(len(n.dPages)) && n.dPages[i] == p {
		np := new(page)
		if p != nil {
			*np = *p
		}
		n.pages[i] = np
		p = np
	}
	return p
}

func (n *node) write(data []byte, off int64) {
	for pos := off; pos < off+int64(len(data)); {
		i, o := pos/pageSize, pos%pageSize
		chunk := min(off+int64(len(data))-pos, pageSize-o)
		copy(n.writable(i)[o:o+chunk], data[pos-off:pos-off+chunk])
		pos += chunk
	}
	n.size = max(n.size, off+int64(len(data)))
	n.mtime = time.Now()
}

// truncate sets the live size. Bytes past the end are kept zero, so that a
// later extension reads zeros.
func (n *node) truncate(size int64) {
	if size < n.size {
		keep := (size + pageSize - 1) / pageSize
		if keep < int64(len(n.pages)) {
			n.pages = n.pages[:keep]
		}
		if o := size % pageSize; o != 0 && size/pageSize < int64(len(n.pages)) && n.pages[size/pageSize] != nil {
			clear(n.writable(size / pageSize)[o:])
		}
	}
	n.size = size
	n.mtime = time.Now()
}

// sync makes the live state durable: content, size and mode for a file,
// entries for a directory.
func (n *node) sync() {
	n.dMode = n.mode
	if n.dir {
		n.dEntries = maps.Clone(n.entries)
		return
	}
	n.dPages = slices.Clone(n.pages)
	n.dSize = n.size
}

// restore replaces the live state by the durable one.
func (n *node) restore() {
	n.mode = n.dMode
	if n.dir {
		n.entries = maps.Clone(n.dEntries)
		return
	}
	n.pages = slices.Clone(n.dPages)
	n.size = n.dSize
}

// cut restores every node reachable from root through durable entries; the
// others are gone.
func cut(root *node) {
	seen := map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		n.restore()
		for _, c := range n.dEntries {
			walk(c)
		}
	}
	walk(root)
}
