package client

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dailyreps/backup/client/v2crypto"
)

// The key material of protocol v2 as the flows draw and check it. Every
// random choice is made here, with crypto/rand, and nowhere else.

// passwordMaterial is what a password contributes to an account.
type passwordMaterial struct {
	keys    newKeys
	authKey []byte
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return b
}

// NewBackupID draws a backup id: 32 lowercase hex characters that say
// nothing about their owner.
func NewBackupID() string { return hex.EncodeToString(randomBytes(16)) }

// checkBackupID refuses, before any request, an id the server would refuse
// and one that would change the request's path.
func checkBackupID(id string) error {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("client: backup id %q is not 32 lowercase hex characters", id)
	}
	return nil
}

// v2AccountID checks the username as the v1 flows do and returns its id.
func v2AccountID(username string) (string, error) {
	if username == "" {
		return "", errors.New("client: username is empty")
	}
	if !utf8.ValidString(username) {
		return "", errors.New("client: username is not valid UTF-8")
	}
	return UserID(username), nil
}

// deriveV2 runs the slow step with kdf and splits its output.
func deriveV2(password string, kdf KDF) (authKey, wrapKey []byte, err error) {
	if kdf.Name != KDFName {
		return nil, nil, fmt.Errorf("client: unknown key derivation %q", kdf.Name)
	}
	salt, err := base64.StdEncoding.DecodeString(kdf.Salt)
	if err != nil {
		return nil, nil, errors.New("client: the key derivation's salt is not base64")
	}
	master, err := v2crypto.Master(password, salt, kdf.Iterations)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	authKey, wrapKey = v2crypto.PasswordKeys(master)
	clear(master)
	return authKey, wrapKey, nil
}

// newPasswordMaterial derives a password's keys with a fresh salt and wraps
// the data key under them.
func newPasswordMaterial(accountID, password string, iterations int, dataKey []byte) (passwordMaterial, error) {
	if password == "" {
		return passwordMaterial{}, errors.New("client: the password is empty")
	}
	kdf := KDF{Name: KDFName, Iterations: iterations, Salt: base64.StdEncoding.EncodeToString(randomBytes(v2crypto.SaltSize))}
	authKey, wrapKey, err := deriveV2(password, kdf)
	if err != nil {
		return passwordMaterial{}, err
	}
	wrapped, err := wrapKeyWith(wrapKey, dataKey, v2crypto.LabelDataKey, accountID)
	if err != nil {
		return passwordMaterial{}, err
	}
	return passwordMaterial{keys: newKeys{KDF: kdf, Auth: hex.EncodeToString(authKey), WrappedKey: wrapped}, authKey: authKey}, nil
}

// newAccountMaterial is what registration, recovery and an upgrade send:
// the data key wrapped under the password's fresh keys and under a freshly
// drawn recovery code, which it returns to be shown.
func newAccountMaterial(accountID, password string, iterations int, dataKey []byte) (passwordMaterial, string, recoveryKeys, error) {
	pw, err := newPasswordMaterial(accountID, password, iterations, dataKey)
	if err != nil {
		return passwordMaterial{}, "", recoveryKeys{}, err
	}
	code, recovery, err := newRecoveryMaterial(accountID, dataKey)
	if err != nil {
		return passwordMaterial{}, "", recoveryKeys{}, err
	}
	return pw, code, recovery, nil
}

// newRecoveryMaterial draws a recovery code and wraps the data key under it.
func newRecoveryMaterial(accountID string, dataKey []byte) (code string, keys recoveryKeys, err error) {
	raw := randomBytes(v2crypto.RecoveryCodeSize)
	if code, err = v2crypto.FormatRecoveryCode(raw); err != nil {
		return "", recoveryKeys{}, err
	}
	authKey, wrapKey := v2crypto.RecoveryKeys(raw)
	wrapped, err := wrapKeyWith(wrapKey, dataKey, v2crypto.LabelDataKeyRecovery, accountID)
	if err != nil {
		return "", recoveryKeys{}, err
	}
	return code, recoveryKeys{RecoveryAuth: hex.EncodeToString(authKey), RecoveryWrappedKey: wrapped}, nil
}

// wrapKeyWith seals a 32-byte key under wrapKey, bound to its label and
// account.
func wrapKeyWith(wrapKey, key []byte, label, accountID string) (string, error) {
	sealed, err := v2crypto.Seal(wrapKey, randomBytes(v2crypto.NonceSize), key, v2crypto.KeyAD(label, accountID))
	if err != nil {
		return "", fmt.Errorf("client: wrap key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// ErrKeyUnwrap means a wrapped key did not open: the password or recovery
// code is wrong, or the server altered or swapped the key.
var ErrKeyUnwrap = errors.New("client: the wrapped key does not open: wrong password or recovery code, or an altered key")

func unwrapKey(wrapKey []byte, wrapped, label, accountID string) ([]byte, error) {
	sealed, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil {
		return nil, ErrKeyUnwrap
	}
	key, err := v2crypto.Open(wrapKey, sealed, v2crypto.KeyAD(label, accountID))
	if err != nil || len(key) != v2crypto.KeySize {
		return nil, ErrKeyUnwrap
	}
	return key, nil
}
