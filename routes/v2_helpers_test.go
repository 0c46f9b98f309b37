package routes_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/servertest"
)

// v2User is a client's side of a protocol v2 account: real key material
// from client/v2crypto. The slow step is replaced by a hash of the password
// and salt unless the test asks for the real PBKDF2 (the server never sees
// either, so routes cannot tell them apart).
type v2User struct {
	username, accountID string
	dataKey             []byte
	password            v2Password
	recoveryCode        []byte
	recoveryAuth        string
	recoveryWrappedKey  string
	token               string
}

// v2Password is one password's material: its KDF parameters, the key the
// server verifies and the data key wrapped under it.
type v2Password struct {
	password   string
	kdf        map[string]any
	auth       string
	wrapKey    []byte
	wrappedKey string
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// newV2User draws an account's material for username and password.
func newV2User(t testing.TB, username, password string) *v2User {
	t.Helper()
	u := &v2User{username: username, accountID: client.UserID(username), dataKey: randomBytes(32)}
	u.password = u.passwordMaterial(t, password, 0)
	u.newRecoveryCode(t)
	return u
}

// passwordMaterial derives a password's keys with a fresh salt; iterations
// > 0 runs the real PBKDF2 with that count.
func (u *v2User) passwordMaterial(t testing.TB, password string, iterations int) v2Password {
	t.Helper()
	salt := randomBytes(16)
	var master []byte
	if iterations > 0 {
		var err error
		if master, err = v2crypto.Master(password, salt, iterations); err != nil {
			t.Fatal(err)
		}
	} else {
		iterations = v2crypto.MinIterations
		sum := sha256.Sum256(append([]byte(password), salt...))
		master = sum[:]
	}
	authKey, wrapKey := v2crypto.PasswordKeys(master)
	return v2Password{password: password,
		kdf:  map[string]any{"name": "PBKDF2-SHA256", "iterations": iterations, "salt": b64(salt)},
		auth: hex.EncodeToString(authKey), wrapKey: wrapKey,
		wrappedKey: u.seal(t, wrapKey, u.dataKey, v2crypto.LabelDataKey)}
}

func (u *v2User) newRecoveryCode(t testing.TB) {
	t.Helper()
	u.recoveryCode = randomBytes(v2crypto.RecoveryCodeSize)
	authKey, wrapKey := v2crypto.RecoveryKeys(u.recoveryCode)
	u.recoveryAuth = hex.EncodeToString(authKey)
	u.recoveryWrappedKey = u.seal(t, wrapKey, u.dataKey, v2crypto.LabelDataKeyRecovery)
}

func (u *v2User) seal(t testing.TB, key, plaintext []byte, label string) string {
	t.Helper()
	sealed, err := v2crypto.Seal(key, randomBytes(v2crypto.NonceSize), plaintext, v2crypto.KeyAD(label, u.accountID))
	if err != nil {
		t.Fatal(err)
	}
	return b64(sealed)
}

// unwrap opens a wrapped data key as a client does after login.
func (u *v2User) unwrap(t testing.TB, key []byte, wrapped, label string) []byte {
	t.Helper()
	sealed, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	k, err := v2crypto.Open(key, sealed, v2crypto.KeyAD(label, u.accountID))
	if err != nil {
		t.Fatalf("unwrap %s: %v", label, err)
	}
	return k
}

func (u *v2User) registerBody() map[string]any {
	return map[string]any{"accountId": u.accountID, "kdf": u.password.kdf, "auth": u.password.auth,
		"wrappedKey": u.password.wrappedKey, "recoveryAuth": u.recoveryAuth, "recoveryWrappedKey": u.recoveryWrappedKey}
}

func (u *v2User) loginBody() map[string]any {
	return map[string]any{"accountId": u.accountID, "auth": u.password.auth}
}

// sealData encrypts plaintext as version v of backup id.
func (u *v2User) sealData(t testing.TB, id string, v int64, plaintext string) string {
	t.Helper()
	data, err := v2crypto.SealBackup(u.dataKey, randomBytes(v2crypto.NonceSize),
		v2crypto.Backup{AccountID: u.accountID, BackupID: id, Version: v}, []byte(plaintext), true)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// openData decrypts a restore of version v of backup id.
func (u *v2User) openData(t testing.TB, id string, v int64, data string) string {
	t.Helper()
	p, err := v2crypto.OpenBackup(u.dataKey, v2crypto.Backup{AccountID: u.accountID, BackupID: id, Version: v}, data)
	if err != nil {
		t.Fatalf("open version %d of %s: %v", v, id, err)
	}
	return string(p)
}

// newBackupID draws a backupId as clients do.
func newBackupID() string { return hex.EncodeToString(randomBytes(16)) }

// doer sends a request from one address: the server itself (127.0.0.1) or
// a servertest.Client.
type doer interface {
	Do(servertest.Request) *servertest.Response
}

func postReq(path string, body any) servertest.Request {
	return servertest.Request{Method: http.MethodPost, Path: path, Body: body}
}

// bearer adds a session token to r.
func bearer(token string, r servertest.Request) servertest.Request {
	return withHeader(r, "Authorization", "Bearer "+token)
}

// v2Register registers u and keeps its session.
func v2Register(t testing.TB, s doer, u *v2User) {
	t.Helper()
	r := s.Do(postReq("/api/v2/register", u.registerBody()))
	if r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	u.token = sessionOf(t, r)
}

// v2Login signs u in with its current password and returns the answer.
func v2Login(t testing.TB, s doer, u *v2User) map[string]any {
	t.Helper()
	r := s.Do(postReq("/api/v2/login", u.loginBody()))
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	u.token = sessionOf(t, r)
	return r.JSON(t)
}

// sessionOf reads {"token", "expiresAt", ...} and checks the token's shape.
func sessionOf(t testing.TB, r *servertest.Response) string {
	t.Helper()
	m := r.JSON(t)
	token, _ := m["token"].(string)
	if b, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil || len(b) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url: %s", token, r.Body)
	}
	if _, ok := m["expiresAt"].(string); !ok {
		t.Fatalf("no expiresAt: %s", r.Body)
	}
	return token
}

func putReq(token, id string, version int64, data string) servertest.Request {
	return bearer(token, servertest.Request{Method: http.MethodPut, Path: "/api/v2/backups/" + id,
		Body: map[string]any{"version": version, "data": data}})
}

// v2Save stores version v of backup id with plaintext and checks the answer.
func v2Save(t testing.TB, s doer, u *v2User, id string, v int64, plaintext string) {
	t.Helper()
	r := s.Do(putReq(u.token, id, v, u.sealData(t, id, v, plaintext)))
	if r.Status != http.StatusOK {
		t.Fatalf("save v%d: %d %s", v, r.Status, r.Body)
	}
	if m := r.JSON(t); m["version"] != float64(v) || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, v) {
		t.Fatalf("save v%d answered %s, ETag %s", v, r.Body, r.Header.Get("ETag"))
	}
}

func getReq(token, path string) servertest.Request {
	return bearer(token, servertest.Request{Method: http.MethodGet, Path: path})
}

// v2Restore restores version v (0: the newest) of backup id and decrypts it.
func v2Restore(t testing.TB, s doer, u *v2User, id string, v int64) (plaintext string, version int64) {
	t.Helper()
	path := "/api/v2/backups/" + id
	if v > 0 {
		path += fmt.Sprintf("?version=%d", v)
	}
	r := s.Do(getReq(u.token, path))
	if r.Status != http.StatusOK {
		t.Fatalf("restore %s: %d %s", path, r.Status, r.Body)
	}
	m := r.JSON(t)
	version = int64(m["version"].(float64))
	return u.openData(t, id, version, m["data"].(string)), version
}

// v1Backup is a protocol v1 user's backup as the v1 client writes it.
type v1Backup struct {
	userID, storageKey string
	key                []byte // the v1 encryption key
}

func newV1Backup(t testing.TB, username, password string) v1Backup {
	t.Helper()
	key, err := client.EncryptionKey(username, password)
	if err != nil {
		t.Fatal(err)
	}
	uid := client.UserID(username)
	return v1Backup{userID: uid, storageKey: client.StorageKey(uid, password), key: key}
}

func (b v1Backup) seal(t testing.TB, plaintext string) string {
	t.Helper()
	data, err := client.Seal(b.key, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// upgradeBody moves b into u's account as backup id.
func (u *v2User) upgradeBody(t testing.TB, b v1Backup, id string) map[string]any {
	t.Helper()
	body := u.registerBody()
	delete(body, "accountId")
	body["userId"], body["storageKey"], body["backupId"] = b.userID, b.storageKey, id
	body["wrappedLegacyKey"] = u.seal(t, u.dataKey, b.key, v2crypto.LabelLegacyKey)
	return body
}

// decodeJSON decodes a 200's body into v.
func decodeJSON(t testing.TB, r *servertest.Response, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
}
