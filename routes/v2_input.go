package routes

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
)

// Protocol v2 sizes (docs/protocol-v2.md).
const (
	backupIDLen    = 32 // hex characters of a backupId
	saltSize       = 16
	wrappedKeySize = nonceSize + 32 + tagSize // a sealed 32-byte key
	kdfName        = "PBKDF2-SHA256"
)

// wrongLogin is the one answer of a login or recovery that proves nothing:
// an unknown account and a wrong key alike.
const wrongLogin = "Wrong username or password."

// kdfJSON is the client's key-derivation parameters, as received and as
// stored (re-encoded, so that every stored value has one shape).
type kdfJSON struct {
	Name       string `json:"name"`
	Iterations int64  `json:"iterations"`
	Salt       string `json:"salt"`
}

// newKeysJSON is the "new" member: a password's key material.
type newKeysJSON struct {
	KDF        *kdfJSON `json:"kdf"`
	Auth       string   `json:"auth"`
	WrappedKey string   `json:"wrappedKey"`
}

// accountUser validates an accountId (a v1 userId: 64 hex characters, any
// case) and returns it lower-cased and peppered.
func (h *handlers) accountUser(accountID string) (lower, user string, err error) {
	a, ok := hexID(accountID)
	if !ok {
		return "", "", hooks.Fail(http.StatusBadRequest, "accountId must be 64 hex characters.")
	}
	return a, h.Pepper.User(a), nil
}

// authKey validates a hex authentication key (auth or recoveryAuth, named
// by member) and returns it lower-cased.
func authKey(member, key string) (string, error) {
	k, ok := hexID(key)
	if !ok {
		return "", hooks.Fail(http.StatusBadRequest, member+" must be 64 hex characters.")
	}
	return k, nil
}

// checkKDF validates the client's KDF parameters and encodes them for the
// store. The floor is the protocol's, not the server's current setting: an
// account below the setting is raised at its next login.
func checkKDF(member string, k *kdfJSON) (string, error) {
	switch {
	case k == nil:
		return "", hooks.Fail(http.StatusBadRequest, member+" is missing.")
	case k.Name != kdfName:
		return "", hooks.Fail(http.StatusBadRequest, member+".name must be "+kdfName+".")
	case k.Iterations < config.MinKDFIterations || k.Iterations > config.MaxKDFIterations:
		return "", hooks.Fail(http.StatusBadRequest, member+".iterations must be a whole number from "+
			strconv.Itoa(config.MinKDFIterations)+" to "+strconv.Itoa(config.MaxKDFIterations)+".")
	}
	if n, ok := base64Len(k.Salt); !ok || n != saltSize {
		return "", hooks.Fail(http.StatusBadRequest, member+".salt must be 16 bytes in standard base64.")
	}
	b, err := json.Marshal(k)
	return string(b), err
}

// checkWrapped validates a sealed key: nonce, 32-byte key and tag, in
// canonical standard base64.
func checkWrapped(member, v string) error {
	if n, ok := base64Len(v); !ok || n != wrappedKeySize {
		return hooks.Fail(http.StatusBadRequest, member+" must be a sealed key: 60 bytes in standard base64.")
	}
	return nil
}

// checkNewKeys validates a "new" member and returns its stored KDF and the
// verifier of its auth.
func (h *handlers) checkNewKeys(n *newKeysJSON) (kdf, verifier string, err error) {
	if n == nil {
		return "", "", hooks.Fail(http.StatusBadRequest, "new is missing.")
	}
	if kdf, err = checkKDF("new.kdf", n.KDF); err != nil {
		return "", "", err
	}
	auth, err := authKey("new.auth", n.Auth)
	if err != nil {
		return "", "", err
	}
	if err := checkWrapped("new.wrappedKey", n.WrappedKey); err != nil {
		return "", "", err
	}
	return kdf, h.Pepper.Verifier("auth", auth), nil
}

// storedKDF decodes an account's stored KDF parameters.
func storedKDF(s string) (kdfJSON, error) {
	var k kdfJSON
	err := json.Unmarshal([]byte(s), &k)
	return k, err
}

// sameVerifier compares two verifiers in constant time: the time a wrong
// key takes to refuse says nothing about how much of it was right.
func sameVerifier(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// backupKey validates a backupId from the path: exactly 32 lowercase hex
// characters, as clients draw them (it is stored as sent and listed back,
// so one spelling only). It returns the id and its peppered form.
func (h *handlers) backupKey(e *core.RequestEvent) (name, key string, err error) {
	id := e.Request.PathValue("id")
	if !isBackupID(id) {
		return "", "", hooks.Fail(http.StatusBadRequest, "The backup id must be 32 lowercase hex characters.")
	}
	return id, h.Pepper.Backup(id), nil
}

func isBackupID(s string) bool {
	return len(s) == backupIDLen && strings.Trim(s, "0123456789abcdef") == ""
}

// newToken draws a session token: 32 random bytes, base64url unpadded.
func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails: crypto/rand panics rather than return short
	return base64.RawURLEncoding.EncodeToString(b)
}

const tokenBytes = 32

// tokenLen is the length of a token as sent.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)
