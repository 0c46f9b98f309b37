package client

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type vector struct {
	Username         string `json:"username"`
	Password         string `json:"password"`
	Plaintext        string `json:"plaintext"`
	NonceHex         string `json:"nonceHex"`
	UserID           string `json:"userId"`
	StorageKey       string `json:"storageKey"`
	EncryptionKeyHex string `json:"encryptionKeyHex"`
	Data             string `json:"data"`
}

func TestVectors(t *testing.T) {
	// The shared copy is the web app's source of truth; CI places it beside
	// the clone, so a developer without it still gets the repository copy.
	const repoRoot = ".." // tests run in the package's folder
	// The extra vectors hold usernames whose lower case needs JavaScript's
	// own rules (see lowerJS).
	files := map[string]string{
		"repository": filepath.Join(repoRoot, "testdata", "vectors.json"),
		"extra":      filepath.Join(repoRoot, "testdata", "vectors-extra.json"),
		"shared":     filepath.Join(repoRoot, "..", "shared", "protocol", "vectors.json"),
	}
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if name == "shared" && errors.Is(err, fs.ErrNotExist) {
				t.Skipf("shared vectors not found at %s: they sit beside the repository in CI", path)
			}
			if err != nil {
				t.Fatal(err)
			}
			var vectors []vector
			if err := json.Unmarshal(raw, &vectors); err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			if len(vectors) == 0 {
				t.Fatalf("%s holds no vectors", path)
			}
			for i, v := range vectors {
				t.Run(fmt.Sprintf("%d_%s", i, v.Username), func(t *testing.T) { checkVector(t, v) })
			}
		})
	}
}

func checkVector(t *testing.T, v vector) {
	t.Helper()
	if got := UserID(v.Username); got != v.UserID {
		t.Errorf("UserID = %s, want %s", got, v.UserID)
	}
	if got := StorageKey(v.UserID, v.Password); got != v.StorageKey {
		t.Errorf("StorageKey = %s, want %s", got, v.StorageKey)
	}
	id, err := Derive(v.Username, v.Password)
	if err != nil {
		t.Fatal(err)
	}
	if id.Credentials.UserID != v.UserID || id.Credentials.StorageKey != v.StorageKey {
		t.Errorf("Derive credentials = %s/%s, want %s/%s",
			id.Credentials.UserID, id.Credentials.StorageKey, v.UserID, v.StorageKey)
	}
	if got := hex.EncodeToString(id.EncryptionKey); got != v.EncryptionKeyHex {
		t.Fatalf("encryption key = %s, want %s", got, v.EncryptionKeyHex)
	}
	nonce, err := hex.DecodeString(v.NonceHex)
	if err != nil {
		t.Fatal(err)
	}
	data, err := sealWithNonce(id.EncryptionKey, nonce, []byte(v.Plaintext))
	if err != nil {
		t.Fatal(err)
	}
	if data != v.Data {
		t.Errorf("sealed data =\n%s\nwant\n%s", data, v.Data)
	}
	plaintext, err := Open(id.EncryptionKey, v.Data)
	if err != nil {
		t.Fatalf("Open(vector data): %v", err)
	}
	if string(plaintext) != v.Plaintext {
		t.Errorf("Open = %q, want %q", plaintext, v.Plaintext)
	}
}

func TestUsernameIsCaseInsensitive(t *testing.T) {
	if UserID("Alice") != UserID("aLICE") {
		t.Error("UserID depends on the username's case")
	}
	upper, err := EncryptionKey("ALICE", "pw")
	if err != nil {
		t.Fatal(err)
	}
	lower, err := EncryptionKey("alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(upper) != hex.EncodeToString(lower) {
		t.Error("EncryptionKey depends on the username's case")
	}
}

func TestSecretsStayOutOfFormatting(t *testing.T) {
	id := Identity{
		Credentials:   Credentials{UserID: strings.Repeat("a", 64), StorageKey: strings.Repeat("5", 64)},
		EncryptionKey: []byte(strings.Repeat("\x7f", KeySize)),
	}
	keyHex := hex.EncodeToString(id.EncryptionKey)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, value := range []any{id, id.Credentials, &id} {
			out := fmt.Sprintf(format, value)
			if strings.Contains(out, "5555") || strings.Contains(out, "\x7f\x7f") || strings.Contains(out, keyHex[:16]) {
				t.Errorf("Sprintf(%q, %T) leaks a secret: %s", format, value, out)
			}
		}
	}
	if got := fmt.Sprint(id.Credentials); !strings.Contains(got, "aaaaaaaa") {
		t.Errorf("Credentials.String() = %q, want the abbreviated userId for debugging", got)
	}
}
