package client

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const (
	// KeySize is the length of the AES-256 encryption key in bytes.
	KeySize = 32

	// keyIterations is fixed by the web app: changing it would lock every
	// existing user out of their backups.
	keyIterations = 100_000
)

// UserID returns the server-side name of an account. Usernames are
// case-insensitive, so the id is taken over the name lower-cased as
// JavaScript does it.
func UserID(username string) string {
	return hexSHA256(normalizeUsername(username))
}

// StorageKey returns the proof of the password that the server stores. It
// is bound to the userId so that equal passwords give different keys.
func StorageKey(userID, password string) string {
	return hexSHA256(userID + password)
}

// EncryptionKey derives the AES-256 key that seals the backups. It is slow
// on purpose (PBKDF2 with 100,000 iterations): derive it once per account.
func EncryptionKey(username, password string) ([]byte, error) {
	key, err := pbkdf2.Key(sha256.New, password, []byte(normalizeUsername(username)), keyIterations, KeySize)
	if err != nil {
		return nil, fmt.Errorf("client: derive encryption key: %w", err)
	}
	return key, nil
}

// Credentials are what the server knows an account by. The StorageKey is a
// bearer secret for the account's backups.
type Credentials struct {
	UserID     string
	StorageKey string
}

// String keeps the storage key out of logs and error messages.
func (c Credentials) String() string {
	return "userId=" + abbreviate(c.UserID) + " storageKey=[redacted]"
}

// GoString keeps the storage key out of %#v output.
func (c Credentials) GoString() string { return "client.Credentials{" + c.String() + "}" }

// Identity is everything a username and password stand for in the protocol.
type Identity struct {
	Credentials   Credentials
	EncryptionKey []byte
}

// String keeps the secrets out of logs and error messages.
func (id Identity) String() string { return id.Credentials.String() + " encryptionKey=[redacted]" }

// GoString keeps the secrets out of %#v output.
func (id Identity) GoString() string { return "client.Identity{" + id.String() + "}" }

// Derive computes an Identity, including the slow key derivation.
func Derive(username, password string) (Identity, error) {
	key, err := EncryptionKey(username, password)
	if err != nil {
		return Identity{}, err
	}
	userID := UserID(username)
	return Identity{
		Credentials:   Credentials{UserID: userID, StorageKey: StorageKey(userID, password)},
		EncryptionKey: key,
	}, nil
}

// normalizeUsername is the web app's username.toLowerCase(); see lowerJS.
func normalizeUsername(username string) string { return lowerJS(username) }

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func abbreviate(id string) string {
	const keep = 8
	if len(id) <= keep {
		return id
	}
	return id[:keep] + "…"
}
