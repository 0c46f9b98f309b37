package v2crypto_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/dailyreps/backup/client"
	. "github.com/dailyreps/backup/client/v2crypto"
)

var update = flag.Bool("update", false, "rewrite testdata/protocol-v2-vectors.json from the inputs")

const vectorsPath = "../../testdata/protocol-v2-vectors.json"

// vector is one worked example. The inputs fix every random choice (salt,
// data key, recovery code, nonces); the outputs are what any implementation
// must compute from them.
type vector struct {
	Comment         string `json:"comment"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	SaltHex         string `json:"saltHex"`
	Iterations      int    `json:"iterations"`
	DataKeyHex      string `json:"dataKeyHex"`
	RecoveryCodeHex string `json:"recoveryCodeHex"`
	NonceHex        struct {
		DataKey         string `json:"dataKey"`
		DataKeyRecovery string `json:"dataKeyRecovery"`
		LegacyKey       string `json:"legacyKey"`
		Backup          string `json:"backup"`
	} `json:"nonceHex"`
	BackupID  string `json:"backupId"`
	Version   int64  `json:"version"`
	Compress  bool   `json:"compress"`
	Plaintext string `json:"plaintext"`

	AccountID          string `json:"accountId"`
	MasterHex          string `json:"masterHex"`
	AuthKeyHex         string `json:"authKeyHex"`
	WrapKeyHex         string `json:"wrapKeyHex"`
	RecoveryCode       string `json:"recoveryCode"`
	RecoveryAuthKeyHex string `json:"recoveryAuthKeyHex"`
	RecoveryWrapKeyHex string `json:"recoveryWrapKeyHex"`
	WrappedKey         string `json:"wrappedKey"`
	RecoveryWrappedKey string `json:"recoveryWrappedKey"`
	LegacyKeyHex       string `json:"legacyKeyHex"`
	WrappedLegacyKey   string `json:"wrappedLegacyKey"`
	BackupADHex        string `json:"backupAdHex"`
	// Data is the envelope. With compression the gzip bytes are not fixed
	// across implementations, so only decrypting it is required to agree.
	Data string `json:"data"`
}

type vectorFile struct {
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// compute fills the outputs of v from its inputs.
func compute(t *testing.T, v vector) vector {
	t.Helper()
	v.AccountID = client.UserID(v.Username)
	master, err := Master(v.Password, mustHex(t, v.SaltHex), v.Iterations)
	if err != nil {
		t.Fatal(err)
	}
	auth, wrap := PasswordKeys(master)
	code := mustHex(t, v.RecoveryCodeHex)
	rAuth, rWrap := RecoveryKeys(code)
	v.MasterHex, v.AuthKeyHex, v.WrapKeyHex = hex.EncodeToString(master), hex.EncodeToString(auth), hex.EncodeToString(wrap)
	v.RecoveryAuthKeyHex, v.RecoveryWrapKeyHex = hex.EncodeToString(rAuth), hex.EncodeToString(rWrap)
	if v.RecoveryCode, err = FormatRecoveryCode(code); err != nil {
		t.Fatal(err)
	}
	dataKey := mustHex(t, v.DataKeyHex)
	seal := func(key []byte, nonceHex string, plain []byte, label string) string {
		out, err := Seal(key, mustHex(t, nonceHex), plain, KeyAD(label, v.AccountID))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(out)
	}
	v.WrappedKey = seal(wrap, v.NonceHex.DataKey, dataKey, LabelDataKey)
	v.RecoveryWrappedKey = seal(rWrap, v.NonceHex.DataKeyRecovery, dataKey, LabelDataKeyRecovery)
	legacy, err := client.EncryptionKey(v.Username, v.Password)
	if err != nil {
		t.Fatal(err)
	}
	v.LegacyKeyHex = hex.EncodeToString(legacy)
	v.WrappedLegacyKey = seal(dataKey, v.NonceHex.LegacyKey, legacy, LabelLegacyKey)
	encoding := "none"
	if v.Compress {
		encoding = "gzip"
	}
	v.BackupADHex = hex.EncodeToString(BackupAD(v.AccountID, v.BackupID, v.Version, encoding))
	b := Backup{AccountID: v.AccountID, BackupID: v.BackupID, Version: v.Version}
	if v.Data, err = SealBackup(dataKey, mustHex(t, v.NonceHex.Backup), b, []byte(v.Plaintext), v.Compress); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectors(t *testing.T) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 3 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
	for i, want := range file.Vectors {
		got := compute(t, want)
		if *update {
			file.Vectors[i] = got
			continue
		}
		if want.Compress { // gzip output is not pinned: the envelope must open
			dataKey := mustHex(t, want.DataKeyHex)
			b := Backup{AccountID: want.AccountID, BackupID: want.BackupID, Version: want.Version}
			plain, err := OpenBackup(dataKey, b, want.Data)
			if err != nil || string(plain) != want.Plaintext {
				t.Errorf("vector %d: the stored envelope does not open to the plaintext: %v", i, err)
			}
			got.Data = want.Data
		}
		if got != want {
			g, _ := json.MarshalIndent(got, "", "  ")
			t.Errorf("vector %d (%s) differs; computed:\n%s", i, want.Comment, g)
		}
	}
	if *update {
		out, err := json.MarshalIndent(file, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
