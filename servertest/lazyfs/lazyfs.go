package lazyfs

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a mounted power-loss filesystem.
type FS struct {
	dir string

	mu      sync.Mutex
	root    *node
	nextIno uint64
	frozen  bool                       // the power is off: every operation fails
	trap    func(op, path string) bool // freezes the FS after the operation it matches
	server  *fuse.Server
}

// Mount mounts an empty filesystem at dir, an existing empty directory. It
// needs root (a direct mount, no fusermount binary) and /dev/fuse.
func Mount(dir string) (*FS, error) {
	f := &FS{dir: dir, nextIno: 2}
	f.root = newNode(1, true, 0o755)
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FS) mount() error {
	zero := time.Duration(0)
	srv, err := fs.Mount(f.dir, &fuseNode{fs: f, n: f.root}, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMountStrict: true, FsName: "lazyfs", Name: "lazyfs"},
		// The kernel keeps nothing: every lookup and stat comes here, so
		// nothing seen before a cut is served after it.
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
	})
	if err != nil {
		return fmt.Errorf("lazyfs: mount %s: %w", f.dir, err)
	}
	f.server = srv
	return nil
}

// Dir is the mount point.
func (f *FS) Dir() string { return f.dir }

// Freeze is the moment the power goes: from here on every operation fails
// with EIO, so nothing a program does afterwards can become durable.
func (f *FS) Freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = true
}

// FreezeAfter arms a trap: the first successful operation for which match
// returns true (op is "fsync", "create", "rename" or "unlink"; path is
// relative to the mount point, the new path for a rename) freezes the
// filesystem right after it took effect, as if the power went then.
func (f *FS) FreezeAfter(match func(op, path string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trap = match
}

// Frozen reports whether the power is off (Freeze, or a trap fired).
func (f *FS) Frozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen
}

// Cut simulates a power cut and the reboot after it: it freezes the
// filesystem, unmounts it, drops everything not synced and mounts what
// survived. Every process using the filesystem must have exited.
func (f *FS) Cut() error {
	f.Freeze()
	if err := f.unmount(); err != nil {
		return err
	}
	f.mu.Lock()
	cut(f.root)
	f.frozen, f.trap = false, nil
	f.mu.Unlock()
	return f.mount()
}

// Unmount unmounts the filesystem for good.
func (f *FS) Unmount() error {
	if f.server == nil {
		return nil
	}
	return f.unmount()
}

func (f *FS) unmount() error {
	var err error
	// A killed process's files are released asynchronously: the mount can
	// stay busy for a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = f.server.Unmount(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w", f.dir, err)
	}
	f.server = nil
	return nil
}

// op runs fn under the lock unless the power is off, then fires the trap.
func (f *FS) op(name string, path func() string, fn func() syscall.Errno) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen {
		return syscall.EIO
	}
	errno := fn()
	if errno == 0 && f.trap != nil && name != "" && f.trap(name, path()) {
		f.frozen = true
	}
	return errno
}

// fuseNode is the kernel's view of a node for one mount: a new mount gets
// new fuseNodes over the same model.
type fuseNode struct {
	fs.Inode
	fs *FS
	n  *node
}

var (
	_ fs.NodeLookuper  = (*fuseNode)(nil)
	_ fs.NodeGetattrer = (*fuseNode)(nil)
	_ fs.NodeSetattrer = (*fuseNode)(nil)
	_ fs.NodeOpener    = (*fuseNode)(nil)
	_ fs.NodeCreater   = (*fuseNode)(nil)
	_ fs.NodeReader    = (*fuseNode)(nil)
	_ fs.NodeWriter    = (*fuseNode)(nil)
	_ fs.NodeFsyncer   = (*fuseNode)(nil)
	_ fs.NodeFlusher   = (*fuseNode)(nil)
	_ fs.NodeMkdirer   = (*fuseNode)(nil)
	_ fs.NodeRmdirer   = (*fuseNode)(nil)
	_ fs.NodeUnlinker  = (*fuseNode)(nil)
	_ fs.NodeRenamer   = (*fuseNode)(nil)
	_ fs.NodeReaddirer = (*fuseNode)(nil)
	_ fs.NodeStatfser  = (*fuseNode)(nil)
	_ fs.NodeAllocater = (*fuseNode)(nil)
)

func (fn *fuseNode) path() string { return fn.Path(nil) }

func (fn *fuseNode) child(ctx context.Context, c *node, out *fuse.EntryOut) *fs.Inode {
	fillAttr(c, &out.Attr)
	mode := uint32(syscall.S_IFREG)
	if c.dir {
		mode = syscall.S_IFDIR
	}
	return fn.NewInode(ctx, &fuseNode{fs: fn.fs, n: c}, fs.StableAttr{Mode: mode, Ino: c.ino})
}

func fillAttr(n *node, a *fuse.Attr) {
	a.Ino = n.ino
	a.Nlink = 1
	a.Mode = n.mode | syscall.S_IFREG
	a.Size = uint64(n.size)
	if n.dir {
		a.Mode = n.mode | syscall.S_IFDIR
		a.Nlink = 2
		a.Size = pageSize
	}
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = pageSize
	a.SetTimes(nil, &n.mtime, &n.mtime)
}

func (fn *fuseNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var c *node
	errno := fn.fs.op("", nil, func() syscall.Errno {
		if c = fn.n.entries[name]; c == nil {
			return syscall.ENOENT
		}
		fillAttr(c, &out.Attr)
		return 0
	})
	if errno != 0 {
		return nil, errno
	}
	return fn.child(ctx, c, out), 0
}

func (fn *fuseNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return fn.fs.op("", nil, func() syscall.Errno {
		fillAttr(fn.n, &out.Attr)
		return 0
	})
}

func (fn *fuseNode) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return fn.fs.op("", nil, func() syscall.Errno {
		if sz, ok := in.GetSize(); ok {
			if fn.n.dir {
				return syscall.EISDIR
			}
			fn.n.truncate(int64(sz))
		}
		if m, ok := in.GetMode(); ok {
			fn.n.mode = m & 0o7777
		}
		if mt, ok := in.GetMTime(); ok {
			fn.n.mtime = mt
		}
		fillAttr(fn.n, &out.Attr)
		return 0
	})
}

func (fn *fuseNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, fn.fs.op("", nil, func() syscall.Errno {
		if flags&syscall.O_TRUNC != 0 && !fn.n.dir {
			fn.n.truncate(0)
		}
		return 0
	})
}

func (fn *fuseNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	var c *node
	errno := fn.fs.op("create", func() string { return join(fn.path(), name) }, func() syscall.Errno {
		if c = fn.n.entries[name]; c != nil {
			if flags&syscall.O_EXCL != 0 {
				return syscall.EEXIST
			}
			if c.dir {
				return syscall.EISDIR
			}
			if flags&syscall.O_TRUNC != 0 {
				c.truncate(0)
			}
		} else {
			c = newNode(fn.fs.nextIno, false, mode&0o7777)
			fn.fs.nextIno++
			fn.n.entries[name] = c
			fn.n.mtime = time.Now()
		}
		fillAttr(c, &out.Attr)
		return 0
	})
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return fn.child(ctx, c, out), nil, 0, 0
}

func (fn *fuseNode) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	var n int
	errno := fn.fs.op("", nil, func() syscall.Errno {
		n = fn.n.read(dest, off)
		return 0
	})
	if errno != 0 {
		return nil, errno
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (fn *fuseNode) Write(ctx context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	errno := fn.fs.op("", nil, func() syscall.Errno {
		fn.n.write(data, off)
		return 0
	})
	if errno != 0 {
		return 0, errno
	}
	return uint32(len(data)), 0
}

// Allocate serves fallocate: only its plain form, which extends the file.
func (fn *fuseNode) Allocate(ctx context.Context, _ fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if mode != 0 {
		return syscall.EOPNOTSUPP
	}
	return fn.fs.op("", nil, func() syscall.Errno {
		if end := int64(off + size); end > fn.n.size {
			fn.n.truncate(end)
		}
		return 0
	})
}

// Fsync serves fsync and fdatasync on files and directories alike.
func (fn *fuseNode) Fsync(ctx context.Context, _ fs.FileHandle, flags uint32) syscall.Errno {
	return fn.fs.op("fsync", fn.path, func() syscall.Errno {
		fn.n.sync()
		return 0
	})
}

func (fn *fuseNode) Flush(ctx context.Context, _ fs.FileHandle) syscall.Errno {
	return fn.fs.op("", nil, func() syscall.Errno { return 0 })
}

func (fn *fuseNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var c *node
	errno := fn.fs.op("create", func() string { return join(fn.path(), name) }, func() syscall.Errno {
		if fn.n.entries[name] != nil {
			return syscall.EEXIST
		}
		c = newNode(fn.fs.nextIno, true, mode&0o7777)
		fn.fs.nextIno++
		fn.n.entries[name] = c
		fn.n.mtime = time.Now()
		fillAttr(c, &out.Attr)
		return 0
	})
	if errno != 0 {
		return nil, errno
	}
	return fn.child(ctx, c, out), 0
}

func (fn *fuseNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return fn.fs.op("unlink", func() string { return join(fn.path(), name) }, func() syscall.Errno {
		c := fn.n.entries[name]
		switch {
		case c == nil:
			return syscall.ENOENT
		case !c.dir:
			return syscall.ENOTDIR
		case len(c.entries) > 0:
			return syscall.ENOTEMPTY
		}
		delete(fn.n.entries, name)
		fn.n.mtime = time.Now()
		return 0
	})
}

func (fn *fuseNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return fn.fs.op("unlink", func() string { return join(fn.path(), name) }, func() syscall.Errno {
		c := fn.n.entries[name]
		switch {
		case c == nil:
			return syscall.ENOENT
		case c.dir:
			return syscall.EISDIR
		}
		delete(fn.n.entries, name)
		fn.n.mtime = time.Now()
		return 0
	})
}

func (fn *fuseNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*fuseNode)
	if !ok {
		return syscall.EXDEV
	}
	return fn.fs.op("rename", func() string { return join(np.path(), newName) }, func() syscall.Errno {
		c := fn.n.entries[name]
		if c == nil {
			return syscall.ENOENT
		}
		if flags != 0 {
			return syscall.EINVAL // RENAME_NOREPLACE, RENAME_EXCHANGE: not needed here
		}
		if old := np.n.entries[newName]; old != nil && old != c {
			switch {
			case old.dir && !c.dir:
				return syscall.EISDIR
			case !old.dir && c.dir:
				return syscall.ENOTDIR
			case old.dir && len(old.entries) > 0:
				return syscall.ENOTEMPTY
			}
		}
		delete(fn.n.entries, name)
		np.n.entries[newName] = c
		fn.n.mtime, np.n.mtime = time.Now(), time.Now()
		return 0
	})
}

func (fn *fuseNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var list []fuse.DirEntry
	errno := fn.fs.op("", nil, func() syscall.Errno {
		for name, c := range fn.n.entries {
			mode := uint32(syscall.S_IFREG)
			if c.dir {
				mode = syscall.S_IFDIR
			}
			list = append(list, fuse.DirEntry{Name: name, Ino: c.ino, Mode: mode})
		}
		return 0
	})
	if errno != 0 {
		return nil, errno
	}
	return fs.NewListDirStream(list), 0
}

// Statfs reports a large, empty disk: the server checks free space.
func (fn *fuseNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize, out.Frsize, out.NameLen = pageSize, pageSize, 255
	out.Blocks, out.Bfree, out.Bavail = 1<<28, 1<<28, 1<<28
	out.Files, out.Ffree = 1<<20, 1<<20
	return 0
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
