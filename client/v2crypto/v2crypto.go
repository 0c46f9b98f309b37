// Package v2crypto holds the client-side derivations of protocol v2
// (docs/protocol-v2.md): the slow password step, the independent keys taken
// from it, the recovery code, key wrapping and the associated data that binds
// each backup version to its account. Every function here has a Web Crypto
// twin in the reference page; testdata/protocol-v2-vectors.json pins both.
package v2crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"strconv"

	"golang.org/x/text/unicode/norm"
)

// MinIterations is the floor for PBKDF2-SHA256 (OWASP's current figure).
const MinIterations = 600_000

// Sizes fixed by the protocol.
const (
	KeySize          = 32
	SaltSize         = 16
	NonceSize        = 12
	RecoveryCodeSize = 20
)

// Labels of the wrapped keys' associated data.
const (
	LabelDataKey         = "data-key"
	LabelDataKeyRecovery = "data-key-recovery"
	LabelLegacyKey       = "legacy-key"
)

// Master is the one slow step of a login: PBKDF2-HMAC-SHA-256 over the
// NFC-normalised password, so that two input methods that compose accents
// differently still agree.
func Master(password string, salt []byte, iterations int) ([]byte, error) {
	if iterations < MinIterations {
		return nil, errors.New("v2crypto: iterations below the protocol's floor")
	}
	if len(salt) != SaltSize {
		return nil, errors.New("v2crypto: the salt must be 16 bytes")
	}
	return pbkdf2.Key(sha256.New, norm.NFC.String(password), salt, iterations, KeySize)
}

// Expand is HKDF-SHA-256 with an empty salt and info "dailyreps/v2/"+label.
// Outputs for different labels are independent: the server sees the "auth"
// key and learns nothing about the "wrap" key.
func Expand(ikm []byte, label string) []byte {
	out, err := hkdf.Key(sha256.New, ikm, nil, "dailyreps/v2/"+label, KeySize)
	if err != nil { // only for lengths HKDF cannot produce; 32 bytes always fits
		panic(err)
	}
	return out
}

// PasswordKeys returns the key whose hex the server verifies and the key that
// wraps the data key.
func PasswordKeys(master []byte) (authKey, wrapKey []byte) {
	return Expand(master, "auth"), Expand(master, "wrap")
}

// RecoveryKeys are the recovery code's counterparts of PasswordKeys. The code
// carries 160 random bits, so it needs no slow step.
func RecoveryKeys(code []byte) (authKey, wrapKey []byte) {
	return Expand(code, "recovery-auth"), Expand(code, "recovery-wrap")
}

// KeyAD is the associated data of a wrapped key: its label and the account.
func KeyAD(label, accountID string) []byte {
	return join("dailyreps/v2/"+label, accountID)
}

// BackupAD binds a backup version's ciphertext to its account, backup,
// version and encoding ("gzip" or "none"), so that none can be swapped.
func BackupAD(accountID, backupID string, version int64, encoding string) []byte {
	return join("dailyreps/v2/backup", accountID, backupID, strconv.FormatInt(version, 10), encoding)
}

func join(fields ...string) []byte {
	var b []byte
	for i, f := range fields {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, f...)
	}
	return b
}

// Seal encrypts with AES-256-GCM and returns nonce ‖ ciphertext ‖ tag.
func Seal(key, nonce, plaintext, ad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != NonceSize {
		return nil, errors.New("v2crypto: the nonce must be 12 bytes")
	}
	return aead.Seal(append([]byte(nil), nonce...), nonce, plaintext, ad), nil
}

// Open reverses Seal; any change to the key, the bytes or ad fails.
func Open(key, sealed, ad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < NonceSize+aead.Overhead() {
		return nil, errors.New("v2crypto: sealed data too short")
	}
	return aead.Open(nil, sealed[:NonceSize], sealed[NonceSize:], ad)
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, errors.New("v2crypto: keys are 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
