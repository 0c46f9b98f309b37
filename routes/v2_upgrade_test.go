package routes_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// v1History saves n versions of a v1 backup and returns their plaintexts.
func v1History(t *testing.T, s *servertest.Server, b v1Backup, n int) []string {
	t.Helper()
	var texts []string
	for i := range n {
		text := fmt.Sprintf("v1 version %d of %s", i+1, b.storageKey[:8])
		save(t, s, b.userID, b.storageKey, b.seal(t, text))
		texts = append(texts, text)
	}
	return texts
}

// openUpgraded decrypts an upgraded version: its v1 envelope, with the v1
// key the restore carries sealed under the data key.
func openUpgraded(t *testing.T, u *v2User, m map[string]any) string {
	t.Helper()
	legacy, ok := m["wrappedLegacyKey"].(string)
	if !ok {
		t.Fatalf("an upgraded backup's restore has no wrappedLegacyKey: %v", m)
	}
	key := u.unwrap(t, u.dataKey, legacy, v2crypto.LabelLegacyKey)
	p, err := client.Open(key, m["data"].(string))
	if err != nil {
		t.Fatalf("open an upgraded version: %v", err)
	}
	return string(p)
}

// An upgrade moves the v1 backup with every version under a new account
// and retires the v1 key; repeating it with the same material answers 200.
func TestV2Upgrade(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "upgrade-alice", "pw")
	b := newV1Backup(t, "upgrade-alice", "pw")
	register(t, s, b.userID)
	texts := v1History(t, s, b, 3)
	id := newBackupID()
	body := u.upgradeBody(t, b, id)

	r := s.Do(postReq("/api/v2/upgrade", body))
	u.token = sessionOf(t, r)
	for v := int64(1); v <= 3; v++ {
		m := s.Do(getReq(u.token, fmt.Sprintf("/api/v2/backups/%s?version=%d", id, v))).JSON(t)
		if got := openUpgraded(t, u, m); got != texts[v-1] || m["version"] != float64(v) {
			t.Fatalf("version %d restores %q (%v)", v, got, m["version"])
		}
	}
	// The v1 key is retired on every v1 route, and no v1 backup can appear
	// beside the account.
	expectError(t, get(s, b.userID, b.storageKey), http.StatusNotFound)
	expectError(t, s.Do(saveReq(b.userID, b.storageKey, b.seal(t, "after"))), http.StatusConflict)
	expectError(t, s.Do(deleteReq(b.userID, b.storageKey)), http.StatusNotFound)
	other := newV1Backup(t, "upgrade-alice", "another pw")
	msg := expectError(t, s.Do(saveReq(other.userID, other.storageKey, other.seal(t, "new"))), http.StatusConflict)
	if !strings.Contains(msg, "protocol v2") {
		t.Fatalf("a v1 save beside the account: %q", msg)
	}
	// A resumed upgrade (the answer was lost) succeeds again.
	u.token = sessionOf(t, s.Do(postReq("/api/v2/upgrade", body)))
	before := s.Snapshot()
	if m := s.Do(getReq(u.token, "/api/v2/backups/"+id)).JSON(t); m["version"] != float64(3) {
		t.Fatalf("after the resumed upgrade: %v", m)
	}
	// Other material is refused.
	stranger := newV2User(t, "upgrade-alice", "not the owner")
	expectError(t, s.Do(postReq("/api/v2/upgrade", stranger.upgradeBody(t, b, id))), http.StatusConflict)
	s.Unchanged(before)
	// The account is a normal one from now on.
	v2Save(t, s, u, id, 4, "the first v2 version")
	if got, v := v2Restore(t, s, u, id, 0); got != "the first v2 version" || v != 4 {
		t.Fatalf("restore = %q v%d", got, v)
	}
	m := v2Login(t, s, u)
	if k := u.unwrap(t, u.password.wrapKey, m["wrappedKey"].(string), v2crypto.LabelDataKey); !bytes.Equal(k, u.dataKey) {
		t.Fatal("the upgraded account's wrapped key does not open")
	}
}

// Another v1 backup of the same name (an older password) moves into the
// account with the account's own auth, keeping its own legacy key.
func TestV2UpgradeSecondBackup(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "upgrade-bob", "pw")
	older, newer := newV1Backup(t, "upgrade-bob", "old pw"), newV1Backup(t, "upgrade-bob", "pw")
	register(t, s, newer.userID)
	oldTexts, newTexts := v1History(t, s, older, 2), v1History(t, s, newer, 1)
	first, second := newBackupID(), newBackupID()
	u.token = sessionOf(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, newer, first))))
	// The older backup is still v1's until it moves.
	if m := get(s, older.userID, older.storageKey).JSON(t); m["version"] != float64(2) {
		t.Fatalf("the other v1 backup: %v", m)
	}
	u.token = sessionOf(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, older, second))))
	for id, want := range map[string]string{first: newTexts[0], second: oldTexts[1]} {
		m := s.Do(getReq(u.token, "/api/v2/backups/"+id)).JSON(t)
		if got := openUpgraded(t, u, m); got != want {
			t.Fatalf("%s restores %q, want %q", id, got, want)
		}
	}
	expectError(t, get(s, older.userID, older.storageKey), http.StatusNotFound)
}

// A storageKey that proves no backup is a 404 as on v1, counted as a
// failed attempt; nothing is created.
func TestV2UpgradeFailures(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.FailedLookupBurst = 2 })
	u := newV2User(t, "upgrade-carol", "pw")
	b := newV1Backup(t, "upgrade-carol", "pw")
	register(t, s, b.userID)
	v1History(t, s, b, 1)
	guess := newV1Backup(t, "upgrade-carol", "guess")
	nobody := newV1Backup(t, "upgrade-nobody", "pw")
	before := s.Snapshot()
	expectError(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, guess, newBackupID()))), http.StatusNotFound)
	expectError(t, s.Do(postReq("/api/v2/upgrade", newV2User(t, "upgrade-nobody", "pw").upgradeBody(t, nobody, newBackupID()))), http.StatusNotFound)
	expectError(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, guess, newBackupID()))), http.StatusNotFound)
	// The budget for this user and address is spent: even the right key waits.
	expectError(t, s.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, b, newBackupID()))), http.StatusTooManyRequests)
	s.Unchanged(before)
	// The v1 backup is as it was; the owner's other address reaches it.
	v2 := s.From("127.0.0.2")
	expectStatus(t, v2.Do(servertest.Request{Method: "GET", Path: getPath(b.userID, b.storageKey)}), http.StatusOK)
	u.token = sessionOf(t, v2.Do(postReq("/api/v2/upgrade", u.upgradeBody(t, b, newBackupID()))))
	failedAttempts(t, v2, u.token, 2)
}
