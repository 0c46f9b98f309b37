package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dailyreps/backup/client"
)

// v2Material is what a protocol v2 client sends for an account: well formed
// and derived from a name, so that a test can send the same material again
// after a restart. The server never sees what a real client derives it
// from, so nothing here needs the slow derivation.
type v2Material struct {
	AccountID                      string // a v1 userId: 64 hex
	Auth, RecoveryAuth             string // 64 hex
	WrappedKey, RecoveryWrappedKey string // sealed keys: 60 bytes, base64
	WrappedLegacyKey               string
	KDF                            map[string]any
}

func newV2Material(name string) v2Material {
	return v2Material{
		AccountID: hexID("v2-account:" + name), Auth: hexID("v2-auth:" + name), RecoveryAuth: hexID("v2-recovery:" + name),
		WrappedKey: sealed("wrapped:" + name), RecoveryWrappedKey: sealed("recovery-wrapped:" + name),
		WrappedLegacyKey: sealed("legacy:" + name),
		KDF:              map[string]any{"name": "PBKDF2-SHA256", "iterations": 600000, "salt": b64Of("salt:"+name, 16)},
	}
}

// sealed is a well-formed sealed key: nonce, 32 bytes and a tag.
func sealed(name string) string { return b64Of(name, 60) }

func b64Of(name string, n int) string {
	var b []byte
	for i := 0; len(b) < n; i++ {
		h := sha256.Sum256([]byte(name + "/" + strconv.Itoa(i)))
		b = append(b, h[:]...)
	}
	return base64.StdEncoding.EncodeToString(b[:n])
}

// backupID is a v2 backupId drawn from name: 32 lowercase hex.
func backupID(name string) string { return hexID("v2-backup:" + name)[:32] }

// v2Data is a well-formed v2 envelope of size bytes of ciphertext drawn
// from name.
func v2Data(name string, size int) string {
	b, _ := json.Marshal(map[string]any{"v": 2, "nonce": b64Of("nonce:"+name, 12), "ct": b64Of("ct:"+name, size)})
	return string(b)
}

// v2 sends a v2 request with a JSON body (nil: none) and, when token is
// set, the session.
func (a *api) v2(method, path, token string, body any) (int, []byte, error) {
	h := http.Header{}
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
		h.Set("Content-Type", "application/json")
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if a.secret != nil {
		a.signOnce(h, method, path, raw)
	}
	st, _, b, err := a.do(method, path, raw, h)
	return st, b, err
}

// v2Token sends a request that answers a session and returns its token.
func (a *api) v2Token(path string, body any) (int, string, error) {
	st, b, err := a.v2("POST", path, "", body)
	if err != nil || st != http.StatusOK {
		return st, "", err
	}
	tok := tokenOf(b)
	if tok == "" {
		return st, "", fmt.Errorf("%s answered %q", path, b)
	}
	return st, tok, nil
}

// tokenOf is the token of a session's answer ("" if none).
func tokenOf(b []byte) string {
	var r struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(b, &r)
	return r.Token
}

func (a *api) v2Register(m v2Material) (int, string, error) {
	return a.v2Token("/api/v2/register", map[string]any{"accountId": m.AccountID, "kdf": m.KDF, "auth": m.Auth,
		"wrappedKey": m.WrappedKey, "recoveryAuth": m.RecoveryAuth, "recoveryWrappedKey": m.RecoveryWrappedKey})
}

func (a *api) v2Login(accountID, auth string) (int, string, error) {
	return a.v2Token("/api/v2/login", map[string]any{"accountId": accountID, "auth": auth})
}

// v2Upgrade moves the v1 backup (userId, storageKey) into m's account as
// backup; m.AccountID is not sent (the account is the v1 user).
func (a *api) v2Upgrade(m v2Material, userID, storageKey, backup string) (int, string, error) {
	return a.v2Token("/api/v2/upgrade", upgradeBody(m, userID, storageKey, backup))
}

func (a *api) v2Put(token, backup string, version int64, data string) (int, error) {
	st, _, err := a.v2("PUT", "/api/v2/backups/"+backup, token, map[string]any{"version": version, "data": data})
	return st, err
}

// v2Backup is a v2 restore's answer.
type v2Backup struct {
	Data             string `json:"data"`
	Version          int64  `json:"version"`
	WrappedLegacyKey string `json:"wrappedLegacyKey"`
}

// v2Get reads the newest version (version 0) or the given one.
func (a *api) v2Get(token, backup string, version int64) (int, v2Backup, error) {
	path := "/api/v2/backups/" + backup
	if version > 0 {
		path += "?version=" + strconv.FormatInt(version, 10)
	}
	var r v2Backup
	st, b, err := a.v2("GET", path, token, nil)
	if err != nil || st != http.StatusOK {
		return st, r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return st, r, fmt.Errorf("v2 restore answered %d bytes that are not JSON: %v", len(b), err)
	}
	return st, r, nil
}

// signOnce signs a request with a signature not used before: the same
// request again in the same second would be refused as a replay (the
// session is not signed), so it waits for the next second.
func (a *api) signOnce(h http.Header, method, path string, body []byte) {
	for {
		ts := time.Now().Unix()
		sig := client.Sign(a.secret, ts, method, path, body)
		a.mu.Lock()
		if a.signed == nil {
			a.signed = map[string]bool{}
		}
		used := a.signed[sig]
		a.signed[sig] = true
		a.mu.Unlock()
		if !used {
			h.Set("X-Timestamp", strconv.FormatInt(ts, 10))
			h.Set("X-Signature", sig)
			return
		}
		time.Sleep(time.Until(time.Unix(ts+1, 0)))
	}
}
