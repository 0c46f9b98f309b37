package v2crypto

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
)

// Envelope is a v2 backup version as stored: the JSON string the server
// keeps in `data`. Z is "gzip" when the plaintext was compressed first.
type Envelope struct {
	V     int    `json:"v"`
	Nonce string `json:"nonce"`
	CT    string `json:"ct"`
	Z     string `json:"z,omitempty"`
}

// Backup names one version of one backup of an account: what the
// associated data binds.
type Backup struct {
	AccountID, BackupID string
	Version             int64
}

// MaxPlaintext bounds a decompressed backup, so that a server cannot make a
// client inflate a small blob without end.
const MaxPlaintext = 64 << 20

// SealBackup encrypts plaintext for b under the data key. With compress it
// gzips first, and keeps the result only when it is smaller.
func SealBackup(dataKey, nonce []byte, b Backup, plaintext []byte, compress bool) (string, error) {
	encoding := "none"
	if compress {
		if z, err := gzipBytes(plaintext); err == nil && len(z) < len(plaintext) {
			plaintext, encoding = z, "gzip"
		}
	}
	sealed, err := Seal(dataKey, nonce, plaintext, BackupAD(b.AccountID, b.BackupID, b.Version, encoding))
	if err != nil {
		return "", err
	}
	env := Envelope{V: 2, Nonce: base64.StdEncoding.EncodeToString(sealed[:NonceSize]),
		CT: base64.StdEncoding.EncodeToString(sealed[NonceSize:])}
	if encoding == "gzip" {
		env.Z = encoding
	}
	out, err := json.Marshal(env)
	return string(out), err
}

// OpenBackup decrypts data, which must have been sealed for exactly b.
func OpenBackup(dataKey []byte, b Backup, data string) ([]byte, error) {
	var env Envelope
	if err := json.Unmarshal([]byte(data), &env); err != nil || env.V != 2 {
		return nil, errors.New("v2crypto: not a v2 envelope")
	}
	encoding := "none"
	switch env.Z {
	case "":
	case "gzip":
		encoding = "gzip"
	default:
		return nil, errors.New("v2crypto: unknown encoding")
	}
	nonce, err1 := base64.StdEncoding.DecodeString(env.Nonce)
	ct, err2 := base64.StdEncoding.DecodeString(env.CT)
	if err1 != nil || err2 != nil || len(nonce) != NonceSize {
		return nil, errors.New("v2crypto: malformed envelope")
	}
	plain, err := Open(dataKey, append(nonce, ct...), BackupAD(b.AccountID, b.BackupID, b.Version, encoding))
	if err != nil || encoding == "none" {
		return plain, err
	}
	r, err := gzip.NewReader(bytes.NewReader(plain))
	if err != nil {
		return nil, err
	}
	// The server chooses what it returns: bound what a small blob may grow to.
	out, err := io.ReadAll(io.LimitReader(r, MaxPlaintext+1))
	if err == nil && len(out) > MaxPlaintext {
		return nil, errors.New("v2crypto: the backup expands past the plaintext limit")
	}
	return out, err
}

func gzipBytes(p []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(p); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
