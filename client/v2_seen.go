package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// SeenStore remembers the highest version a client has seen of each backup,
// so that a server serving an authentic but older version as the newest is
// noticed (docs/protocol-v2.md, "Rollback").
type SeenStore interface {
	// Highest returns the highest version recorded, or zero.
	Highest(accountID, backupID string) (int64, error)
	// Record raises the recorded version to version; it never lowers it.
	Record(accountID, backupID string, version int64) error
	// Forget drops the record of a deleted backup.
	Forget(accountID, backupID string) error
}

// RollbackError reports that the server's newest version of a backup is
// older than one this client saw before.
type RollbackError struct {
	BackupID string
	Seen     int64 // the highest version seen before
	Got      int64 // what the server now calls the newest
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("client: backup %s: the server's newest version is %d, but version %d was seen before: the server may be serving an old copy", e.BackupID, e.Got, e.Seen)
}

// MemorySeenStore keeps the record for the life of the process.
type MemorySeenStore struct {
	mu   sync.Mutex
	seen map[string]int64
}

func seenKey(accountID, backupID string) string { return accountID + "/" + backupID }

func (m *MemorySeenStore) Highest(accountID, backupID string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[seenKey(accountID, backupID)], nil
}

func (m *MemorySeenStore) Record(accountID, backupID string, version int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]int64{}
	}
	k := seenKey(accountID, backupID)
	m.seen[k] = max(m.seen[k], version)
	return nil
}

func (m *MemorySeenStore) Forget(accountID, backupID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, seenKey(accountID, backupID))
	return nil
}

// FileSeenStore keeps the record in a small JSON file, readable by its
// owner only, rewritten whole through a temporary file so that a crash
// leaves the old record or the new one.
type FileSeenStore struct {
	Path string
	mu   sync.Mutex
}

func (f *FileSeenStore) load() (map[string]int64, error) {
	raw, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: read %s: %w", f.Path, err)
	}
	seen := map[string]int64{}
	if err := json.Unmarshal(raw, &seen); err != nil {
		return nil, fmt.Errorf("client: %s is not a record of seen versions: %w", f.Path, err)
	}
	return seen, nil
}

func (f *FileSeenStore) save(seen map[string]int64) error {
	raw, err := json.MarshalIndent(seen, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(f.Path, raw)
}

func (f *FileSeenStore) Highest(accountID, backupID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen, err := f.load()
	return seen[seenKey(accountID, backupID)], err
}

func (f *FileSeenStore) Record(accountID, backupID string, version int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen, err := f.load()
	if err != nil {
		return err
	}
	k := seenKey(accountID, backupID)
	if seen[k] >= version {
		return nil
	}
	seen[k] = version
	return f.save(seen)
}

func (f *FileSeenStore) Forget(accountID, backupID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen, err := f.load()
	if err != nil {
		return err
	}
	if _, ok := seen[seenKey(accountID, backupID)]; !ok {
		return nil
	}
	delete(seen, seenKey(accountID, backupID))
	return f.save(seen)
}

// writeFileAtomic writes data to path with mode 0600, creating the
// directory (0700) when needed.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// WriteFilePrivate writes data to path, readable by its owner only,
// replacing it whole: for a session record or a recovery code.
func WriteFilePrivate(path string, data []byte) error { return writeFileAtomic(path, data) }
