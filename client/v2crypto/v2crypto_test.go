package v2crypto

import (
	"bytes"
	"strings"
	"testing"
)

func TestRecoveryCodeReadsAsTyped(t *testing.T) {
	code := bytes.Repeat([]byte{0xa5, 0x3c}, 10)
	s, err := FormatRecoveryCode(code)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 39 || strings.Count(s, "-") != 7 {
		t.Fatalf("code %q: want 8 groups of 4", s)
	}
	// A person types it in lower case, with spaces, O for 0 and L for 1.
	typed := strings.NewReplacer("-", " ", "0", "o", "1", "l").Replace(strings.ToLower(s))
	got, err := ParseRecoveryCode(typed)
	if err != nil || !bytes.Equal(got, code) {
		t.Fatalf("ParseRecoveryCode(%q) = %x, %v; want %x", typed, got, err, code)
	}
	for _, bad := range []string{s[:len(s)-1], s + "A", strings.Replace(s, "-", "U", 1)} {
		if _, err := ParseRecoveryCode(bad); err == nil {
			t.Errorf("ParseRecoveryCode(%q) accepted a malformed code", bad)
		}
	}
}

func TestMasterRefusesWeakParameters(t *testing.T) {
	if _, err := Master("pw", make([]byte, SaltSize), MinIterations-1); err == nil {
		t.Error("accepted fewer iterations than the floor")
	}
	if _, err := Master("pw", make([]byte, 8), MinIterations); err == nil {
		t.Error("accepted an 8-byte salt")
	}
}

// The associated data is what stops a server from swapping blobs: any
// change of account, backup, version or encoding must fail to open.
func TestBackupIsBoundToItsPlace(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	nonce := make([]byte, NonceSize)
	b := Backup{AccountID: "a", BackupID: "b", Version: 3}
	data, err := SealBackup(key, nonce, b, []byte(strings.Repeat("reps ", 200)), true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data, `"z":"gzip"`) {
		t.Fatalf("compressible text was not compressed: %s", data)
	}
	if _, err := OpenBackup(key, b, data); err != nil {
		t.Fatalf("own envelope does not open: %v", err)
	}
	for _, other := range []Backup{{"x", "b", 3}, {"a", "x", 3}, {"a", "b", 2}} {
		if _, err := OpenBackup(key, other, data); err == nil {
			t.Errorf("envelope of %+v opened as %+v", b, other)
		}
	}
	stripped := strings.Replace(data, `,"z":"gzip"`, "", 1)
	if _, err := OpenBackup(key, b, stripped); err == nil {
		t.Error("envelope opened with its compression flag stripped")
	}
}
