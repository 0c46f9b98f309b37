package routes_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/servertest"
)

// A v1 user's whole way through v2, with the real slow step: upgrade, log
// in on a new device (prelogin, derive, unwrap), save, restore, versions,
// change the password, recover with the code, delete.
func TestV2FullFlow(t *testing.T) {
	s := newServer(t)
	const name = "Flow User"
	b := newV1Backup(t, name, "v1 password")
	register(t, s, b.userID)
	v1Texts := v1History(t, s, b, 2)

	u := newV2User(t, name, "v1 password")
	u.password = u.passwordMaterial(t, "v1 password", v2crypto.MinIterations)
	id := newBackupID()
	u.token = sessionOf(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, b, id))))
	expectError(t, get(s, b.userID, b.storageKey), http.StatusNotFound)

	// A new device knows the name and the password only.
	device := &v2User{username: name, accountID: u.accountID}
	kdf := prelogin(t, s, device.accountID)
	salt, _ := base64.StdEncoding.DecodeString(kdf["salt"].(string))
	master, err := v2crypto.Master("v1 password", salt, int(kdf["iterations"].(float64)))
	if err != nil {
		t.Fatal(err)
	}
	authKey, wrapKey := v2crypto.PasswordKeys(master)
	device.password = v2Password{auth: fmt.Sprintf("%x", authKey), wrapKey: wrapKey}
	m := v2Login(t, s, device)
	device.dataKey = device.unwrap(t, wrapKey, m["wrappedKey"].(string), v2crypto.LabelDataKey)
	if !bytes.Equal(device.dataKey, u.dataKey) {
		t.Fatal("the new device did not get the data key")
	}
	for v := int64(1); v <= 2; v++ {
		m := s.Do(getReq(device.token, fmt.Sprintf("/api/v2/backups/%s?version=%d", id, v))).JSON(t)
		if got := openUpgraded(t, device, m); got != v1Texts[v-1] {
			t.Fatalf("upgraded version %d restores %q", v, got)
		}
	}
	v2Save(t, s, device, id, 3, "saved on the new device")
	if got, v := v2Restore(t, s, u, id, 0); got != "saved on the new device" || v != 3 {
		t.Fatalf("restore = %q v%d", got, v)
	}
	var vs struct {
		Versions []map[string]any `json:"versions"`
	}
	decodeJSON(t, s.Do(getReq(u.token, "/api/v2/backups/"+id+"/versions")), &vs)
	if len(vs.Versions) != 3 {
		t.Fatalf("versions: %v", vs.Versions)
	}

	// Password change: the old password fails at once, every session ends.
	next := u.passwordMaterial(t, "v2 password", v2crypto.MinIterations)
	r := s.Do(bearer(u.token, postReq("/api/v2/password", passwordBody(u.password.auth, next))))
	fresh := sessionOf(t, r)
	for _, token := range []string{u.token, device.token} {
		expectError(t, s.Do(getReq(token, "/api/v2/backups")), http.StatusUnauthorized)
	}
	expectError(t, s.Do(postReq("/api/v2/login", u.loginBody())), http.StatusUnauthorized)
	u.token, u.password = fresh, next
	if got, _ := v2Restore(t, s, u, id, 0); got != "saved on the new device" {
		t.Fatalf("restore after the change = %q", got)
	}

	// Recovery: the code gives the data key back; the old code then fails.
	if k := recoverKey(t, s, u); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the recovery key does not open")
	}
	oldCode := u.recoveryAuth
	third := u.passwordMaterial(t, "recovered password", v2crypto.MinIterations)
	u.token = sessionOf(t, s.Do(postReq("/api/v2/recover", u.recoverBody(t, third))))
	u.password = third
	expectError(t, s.Do(postReq("/api/v2/recover/key", map[string]string{"accountId": u.accountID, "recoveryAuth": oldCode})), http.StatusUnauthorized)
	recoverKey(t, s, u)
	v2Login(t, s, u)
	m = s.Do(getReq(u.token, "/api/v2/backups/"+id+"?version=1")).JSON(t)
	if got := openUpgraded(t, u, m); got != v1Texts[0] {
		t.Fatalf("the v1 version after recovery restores %q", got)
	}

	// Delete: everything goes.
	r = s.Do(bearer(u.token, servertest.Request{Method: "DELETE", Path: "/api/v2/account", Body: map[string]string{"auth": u.password.auth}}))
	expectStatus(t, r, http.StatusOK)
	expectError(t, s.Do(postReq("/api/v2/login", u.loginBody())), http.StatusUnauthorized)
	if got := prelogin(t, s, u.accountID)["salt"]; got == third.kdf["salt"] {
		t.Fatal("prelogin still answers the deleted account's salt")
	}
}
