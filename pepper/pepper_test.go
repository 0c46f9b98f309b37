package pepper

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t *testing.T, keys ...[]byte) *Pepper {
	t.Helper()
	p, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestIDsAreKeyedAndSeparated(t *testing.T) {
	p := mustNew(t, key(1))
	id := strings.Repeat("ab", 32)
	user, k, fp := p.User(id), p.Key(id), p.Fingerprint()
	for _, s := range []string{user, k, fp} {
		if !hex64.MatchString(s) {
			t.Fatalf("%q is not 64 lowercase hex", s)
		}
	}
	if user == k || user == id || k == id {
		t.Fatal("a userId and a storageKey of the same value must key differently, and never to themselves")
	}
	if p.User(id) != user || mustNew(t, key(1)).User(id) != user {
		t.Fatal("keying is not deterministic")
	}
	if mustNew(t, key(2)).User(id) == user {
		t.Fatal("another pepper keys the same id the same way")
	}
	if b := p.Bucket("newusers", "192.0.2.1"); !strings.HasPrefix(b, "newusers:") || strings.Contains(b, "192.0.2.1") ||
		b == p.Bucket("newusers", "192.0.2.2") || b == p.Bucket("other", "192.0.2.1") {
		t.Fatalf("bucket %q", b)
	}
}

func TestNewValidatesAndCopies(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("a pepper without keys")
	}
	if _, err := New([][]byte{key(1)[:31]}); err == nil {
		t.Fatal("a short key")
	}
	k := key(7)
	p := mustNew(t, k)
	before := p.User("x")
	k[0] ^= 0xff
	if p.User("x") != before {
		t.Fatal("New kept the caller's slice: changing it changed the pepper")
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	p := mustNew(t, key(1), key(2), key(3))
	text := p.Format()
	if !strings.HasPrefix(text, "#") {
		t.Fatal("the file does not start with its warning comment")
	}
	q, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if q.User("u") != p.User("u") || q.Fingerprint() != p.Fingerprint() || q.EnvValue() != p.EnvValue() {
		t.Fatal("Parse(Format(p)) is not p")
	}
	// Blank lines, comments, spaces and CRLF are tolerated.
	messy := "\r\n# a note\r\n  " + hex.EncodeToString(key(1)) + "  \r\n\n" + hex.EncodeToString(key(2)) + "\r\n" + hex.EncodeToString(key(3))
	if q, err := Parse(messy); err != nil || q.User("u") != p.User("u") {
		t.Fatalf("messy file: %v", err)
	}
	if got := p.EnvValue(); got != strings.Join([]string{hex.EncodeToString(key(1)), hex.EncodeToString(key(2)), hex.EncodeToString(key(3))}, ",") {
		t.Fatalf("EnvValue = %q", got)
	}
}

func TestParseRefusesWithoutEchoing(t *testing.T) {
	secret := "c0ffee" + strings.Repeat("1", 56) // 62 hex characters
	for _, text := range []string{"", "# only a comment\n", secret, hex.EncodeToString(key(1)) + "\n" + secret, "zz" + hex.EncodeToString(key(1))[2:]} {
		_, err := Parse(text)
		if err == nil {
			t.Fatalf("Parse(%q) accepted", text)
		}
		if strings.Contains(err.Error(), "c0ffee") || strings.Contains(err.Error(), hex.EncodeToString(key(1))) {
			t.Fatalf("error repeats key material: %v", err)
		}
	}
}

// Rotation appends a key; an id keyed by the old chain, re-keyed, is the id
// the new chain gives, so a database moves to the new pepper without ever
// seeing the raw ids.
func TestRotatedAndRekey(t *testing.T) {
	old := mustNew(t, key(1))
	rotated, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rotated.EnvValue(), old.EnvValue()+",") || len(rotated.keys) != 2 {
		t.Fatal("Rotated does not keep the old keys, oldest first, and add one")
	}
	again, _ := old.Rotated()
	if again.EnvValue() == rotated.EnvValue() {
		t.Fatal("two rotations drew the same new key")
	}
	for _, id := range []string{"", "u", strings.Repeat("f", 64)} {
		if rotated.Rekey(old.User(id)) != rotated.User(id) {
			t.Fatalf("Rekey(old.User(%q)) != new.User", id)
		}
		if rotated.Rekey(old.Key(id)) != rotated.Key(id) {
			t.Fatalf("Rekey(old.Key(%q)) != new.Key", id)
		}
		if rotated.User(id) == old.User(id) {
			t.Fatal("rotation did not change the ids")
		}
	}
	if rotated.Rekey(old.Fingerprint()) != rotated.Fingerprint() || rotated.Fingerprint() == old.Fingerprint() {
		t.Fatal("the fingerprint does not follow the rotation")
	}
	// Twice over: a chain of three.
	third, _ := rotated.Rotated()
	if third.Rekey(rotated.Rekey(old.User("u"))) != third.User("u") {
		t.Fatal("two rotations in a row do not compose")
	}
}

func TestFingerprintRevealsNothing(t *testing.T) {
	p := mustNew(t, key(9))
	fp := p.Fingerprint()
	if strings.Contains(fp, hex.EncodeToString(key(9))[:16]) || fp == p.User("") || fp == p.Key("") {
		t.Fatal("the fingerprint shows the key or equals an id")
	}
	if mustNew(t, key(10)).Fingerprint() == fp {
		t.Fatal("two peppers share a fingerprint")
	}
}

func TestLoadCreatesFileOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, FileName)
	p, created, err := Load(nil, path)
	if err != nil || !created {
		t.Fatalf("first load: created %v, %v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("pepper file mode %v, want 0600", info.Mode().Perm())
	}
	if d, _ := os.Stat(dir); d.Mode().Perm()&0o077 != 0 {
		t.Fatalf("data directory created with mode %v", d.Mode().Perm())
	}
	// The next start reads the same pepper.
	q, created, err := Load(nil, path)
	if err != nil || created || q.Fingerprint() != p.Fingerprint() {
		t.Fatalf("second load: created %v, %v", created, err)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries", len(entries))
	}
	// Two fresh files hold different keys.
	r, _, _ := Load(nil, filepath.Join(t.TempDir(), FileName))
	if r.Fingerprint() == p.Fingerprint() {
		t.Fatal("two generated peppers are the same")
	}
}

func TestLoadPrefersGivenKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	p, _, err := Load([][]byte{key(3)}, path)
	if err != nil || p.Fingerprint() != mustNew(t, key(3)).Fingerprint() {
		t.Fatalf("Load with keys: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("Load with keys wrote a file")
	}
}

func TestLoadRefusesBrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("not a pepper\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(nil, path); err == nil {
		t.Fatal("a broken pepper file was accepted (or replaced)")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a pepper\n" {
		t.Fatal("the broken file was overwritten")
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	p := mustNew(t, key(1))
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	rotated, _ := p.Rotated()
	if err := WriteFile(path, rotated); err != nil {
		t.Fatal(err)
	}
	q, _, err := Load(nil, path)
	if err != nil || q.EnvValue() != rotated.EnvValue() {
		t.Fatalf("after replacing: %v", err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("replaced file mode %v", info.Mode().Perm())
	}
}

// TestIDsAreTheStoredHMACChain pins every id to HMAC-SHA-256 computed afresh,
// key by key, as databases written by earlier releases hold them: the keyed
// states the pepper reuses must give the same ids on every call, from any
// number of goroutines at once.
func TestIDsAreTheStoredHMACChain(t *testing.T) {
	fresh := func(keys [][]byte, msg string) string {
		for _, k := range keys {
			h := hmac.New(sha256.New, k)
			h.Write([]byte(msg))
			msg = hex.EncodeToString(h.Sum(nil))
		}
		return msg
	}
	for _, keys := range [][][]byte{{key(1)}, {key(1), key(2), key(3)}} {
		p := mustNew(t, keys...)
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					id := strings.Repeat(strconv.Itoa((g+i)%10), 64)
					if got, want := p.User(id), fresh(keys, "user\x00"+id); got != want {
						errs <- "User(" + id + ") = " + got + ", want " + want
						return
					}
					if got, want := p.Key(id), fresh(keys, "key\x00"+id); got != want {
						errs <- "Key(" + id + ") = " + got + ", want " + want
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("%d keys: %s", len(keys), e)
		}
		if got, want := p.Rekey("x"), fresh(keys[len(keys)-1:], "x"); got != want {
			t.Fatalf("Rekey = %s, want %s", got, want)
		}
	}
}
