// Package pepper turns the ids a client sends into the ids the database
// keeps. A storageKey is a single SHA-256 of userId+password: kept as sent, a
// stolen database would let a thief test passwords at hash speed. Keyed with a
// secret that lives outside the database, the stored ids are useless without
// that secret.
//
// A pepper is a chain of 32-byte keys, oldest first. Rotation appends a key and
// re-keys every stored id with it (id' = HMAC(new, id)), so the database never
// needs the raw ids to move to a new key.
package pepper

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// FileName is the pepper file's name inside the data directory. It is kept
// out of PocketBase's backup archives and restores (see package hooks).
const FileName = "dailyreps.pepper"

// PendingSuffix names, beside the pepper file, the pepper a rotation is
// moving the database to: it is written before the database is re-keyed, so
// an interrupted rotation never loses the only copy of the new key.
const PendingSuffix = ".next"

// KeySize is the size of one key in bytes.
const KeySize = 32

// ErrMismatch means the pepper is not the one the database was written with.
var ErrMismatch = errors.New("the pepper does not match the one this database was created with: " +
	"start with the original DAILYREPS_PEPPER or pepper file (without it every backup is unreadable); " +
	"if a rotate-pepper run was interrupted, run it again to finish it")

// Pepper keys ids. The zero value is not usable; use New or Load.
type Pepper struct {
	keys [][]byte
	// macs holds, per key, HMAC states already keyed: every request keys a
	// few ids, and keying a fresh HMAC hashes two blocks of padding first
	// (a third of a short id's cost). Reset puts a used state back to keyed.
	macs []*sync.Pool
}

// New builds a pepper from its keys, oldest first.
func New(keys [][]byte) (*Pepper, error) {
	if len(keys) == 0 {
		return nil, errors.New("pepper: no key")
	}
	p := &Pepper{}
	for _, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("pepper: a key must be %d bytes", KeySize)
		}
		key := append([]byte(nil), k...)
		p.keys = append(p.keys, key)
		p.macs = append(p.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
	}
	return p, nil
}

// Load returns the pepper from keys when given (the environment), else from
// the file at path, which it creates with a fresh random key on first start.
// created reports that it did, so that a caller who finds the new pepper does
// not fit its database can remove the file rather than leave a wrong pepper
// behind.
func Load(keys [][]byte, path string) (p *Pepper, created bool, err error) {
	if len(keys) > 0 {
		p, err = New(keys)
		return p, false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		p, err = create(path)
		return p, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("pepper: read %s: %w", path, err)
	}
	p, err = Parse(string(b))
	return p, false, err
}

// Parse reads the file format: one hex key per line, oldest first.
func Parse(text string) (*Pepper, error) {
	var keys [][]byte
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := hex.DecodeString(line)
		if err != nil || len(k) != KeySize {
			return nil, errors.New("pepper: the pepper file must hold 64-hex-character keys, one per line")
		}
		keys = append(keys, k)
	}
	return New(keys)
}

// Format renders p in the file format.
func (p *Pepper) Format() string {
	var b strings.Builder
	b.WriteString("# DailyReps Backup pepper: keep a copy offline. Without it every stored backup is lost.\n")
	for _, k := range p.keys {
		b.WriteString(hex.EncodeToString(k))
		b.WriteByte('\n')
	}
	return b.String()
}

// EnvValue renders p as DAILYREPS_PEPPER expects it.
func (p *Pepper) EnvValue() string {
	parts := make([]string, len(p.keys))
	for i, k := range p.keys {
		parts[i] = hex.EncodeToString(k)
	}
	return strings.Join(parts, ",")
}

// Rotated returns a pepper with one more, freshly generated key.
func (p *Pepper) Rotated() (*Pepper, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return New(append(append([][]byte(nil), p.keys...), k))
}

// Rekey maps an id keyed by the chain without the newest key to one keyed by
// the whole chain. It is what a rotation applies to every stored id.
func (p *Pepper) Rekey(id string) string {
	return p.mac(len(p.keys)-1, id)
}

// User keys a client's userId (lowercase hex).
func (p *Pepper) User(userID string) string { return p.chain("user\x00" + userID) }

// Key keys a client's storageKey (lowercase hex).
func (p *Pepper) Key(storageKey string) string { return p.chain("key\x00" + storageKey) }

// Backup keys a protocol v2 backupId (lowercase hex). Its domain differs
// from Key's, so no v1 storageKey can name a v2 backup.
func (p *Pepper) Backup(backupID string) string { return p.chain("backup\x00" + backupID) }

// Verifier keys a protocol v2 authentication key (kind "auth" or
// "recovery", key in lowercase hex): what the server compares at login.
func (p *Pepper) Verifier(kind, key string) string {
	return p.chain("verifier\x00" + kind + "\x00" + key)
}

// Session keys a protocol v2 session token as sent.
func (p *Pepper) Session(token string) string { return p.chain("session\x00" + token) }

// FakeSalt is the salt prelogin answers for an account that does not
// exist: the same every time for one accountId, unpredictable without the
// pepper, so the answer does not tell a stranger which names are taken.
func (p *Pepper) FakeSalt(accountID string) []byte {
	b, _ := hex.DecodeString(p.chain("fake-salt\x00" + accountID))
	return b[:16]
}

// Bucket keys anything else worth not storing as is, such as a client address.
func (p *Pepper) Bucket(kind, value string) string {
	return kind + ":" + p.chain("bucket\x00"+kind+"\x00"+value)
}

// Fingerprint identifies the pepper without revealing it, so a start with the
// wrong pepper can fail loudly.
func (p *Pepper) Fingerprint() string { return p.chain("fingerprint\x00dailyreps") }

func (p *Pepper) chain(msg string) string {
	id := p.mac(0, msg)
	for i := 1; i < len(p.keys); i++ {
		id = p.mac(i, id)
	}
	return id
}

// mac is hex(HMAC-SHA-256(p.keys[i], msg)).
func (p *Pepper) mac(i int, msg string) string {
	h := p.macs[i].Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, msg)
	var sum [sha256.Size]byte
	id := hex.EncodeToString(h.Sum(sum[:0]))
	p.macs[i].Put(h)
	return id
}

func create(path string) (*Pepper, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	p, _ := New([][]byte{k})
	if err := WriteFile(path, p); err != nil {
		return nil, err
	}
	return p, nil
}

// WriteFile stores p at path with owner-only permissions, atomically and
// durably: the file is synced before the rename, the directory after it.
func WriteFile(path string, p *Pepper) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("pepper: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pepper-*")
	if err != nil {
		return fmt.Errorf("pepper: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(p.Format()); err != nil {
		tmp.Close()
		return fmt.Errorf("pepper: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pepper: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pepper: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pepper: %w", err)
	}
	if err := ReplaceFile(tmp.Name(), path); err != nil {
		return fmt.Errorf("pepper: %w", err)
	}
	return nil
}

// ReplaceFile renames src over dst and syncs their directory: a rename is
// durable only once its directory is, and a pepper file lost at a power cut
// after it was reported written leaves every backup unreadable.
func ReplaceFile(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
