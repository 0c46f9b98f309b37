package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/config"
)

// The protocol v2 flows against the real server, on SQLite or, with
// DAILYREPS_TEST_BACKEND=postgres, on PostgreSQL.

func TestV2AgainstTheServer(t *testing.T) {
	s := startServer(t)
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()

	info, err := c.Info(ctx)
	if err != nil || !strings.Contains(strings.Join(info.Protocols, ","), "v2") {
		t.Fatalf("info: %+v, %v", info, err)
	}
	sess, code, err := c.RegisterV2(ctx, "Ünal", password, client.V2Options{})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	_, _, err = c.RegisterV2(ctx, "ünal", password, client.V2Options{})
	wantAPIError(t, err, 409, client.ErrAlreadyRegistered)

	id := client.NewBackupID()
	doc := []byte(`{"workouts":[` + strings.Repeat(`{"reps":[20,18,15]},`, 200) + `{}]}`)
	for want := int64(1); want <= 3; want++ {
		res, err := sess.Save(ctx, id, doc)
		if err != nil || res.Version != want {
			t.Fatalf("save %d: %+v, %v", want, res, err)
		}
	}
	got, err := sess.Restore(ctx, id, 0)
	if err != nil || string(got.Plaintext) != string(doc) || got.Version != 3 {
		t.Fatalf("restore: version %d, %v", got.Version, err)
	}
	list, err := sess.Backups(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Version != 3 {
		t.Fatalf("backups: %+v, %v", list, err)
	}
	// Compressed before encryption: far smaller than the document.
	if list[0].Size >= int64(len(doc))/2 {
		t.Errorf("stored %d bytes of a %d-byte document", list[0].Size, len(doc))
	}
	versions, err := sess.Versions(ctx, id)
	if err != nil || len(versions) != 3 || versions[0].Version != 3 {
		t.Fatalf("versions: %+v, %v", versions, err)
	}
	acct, err := sess.Account(ctx)
	if err != nil || acct.Backups != 1 || acct.Versions != 3 || acct.BytesUsed == 0 {
		t.Fatalf("account: %+v, %v", acct, err)
	}

	// Login: a wrong password and an unknown user get the same refusal.
	_, err = c.LoginV2(ctx, "Ünal", "wrong", client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
	_, err = c.LoginV2(ctx, "nobody here", password, client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
	other, err := c.LoginV2(ctx, "ÜNAL", password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.Restore(ctx, id, 2); err != nil || got.Version != 2 {
		t.Fatalf("restore version 2 on another device: %v", err)
	}
	_, err = other.Restore(ctx, id, 9)
	wantAPIError(t, err, 404, client.ErrNotFound)

	// A session ends at logout and after its hour.
	if err := other.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = other.Backups(ctx)
	wantAPIError(t, err, 401, client.ErrSignInAgain)
	s.Clock.Advance(2 * time.Hour)
	_, err = sess.Backups(ctx)
	wantAPIError(t, err, 401, client.ErrSignInAgain)

	// Password change: one re-wrap, the old password stops at once.
	if sess, err = c.LoginV2(ctx, "Ünal", password, client.V2Options{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.ChangePassword(ctx, password, "a second password"); err != nil {
		t.Fatalf("change password: %v", err)
	}
	_, err = c.LoginV2(ctx, "Ünal", password, client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
	if got, err := sess.Restore(ctx, id, 0); err != nil || got.Version != 3 {
		t.Fatalf("restore after the change: %v", err)
	}

	// Recovery keeps every version and replaces the code.
	wrong, _ := v2crypto.FormatRecoveryCode(make([]byte, 20))
	_, _, err = c.RecoverV2(ctx, "Ünal", wrong, "third", client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
	rec, code2, err := c.RecoverV2(ctx, "Ünal", code, "a third password", client.V2Options{})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	_, err = sess.Backups(ctx)
	wantAPIError(t, err, 401, client.ErrSignInAgain)
	if got, err := rec.Restore(ctx, id, 1); err != nil || string(got.Plaintext) != string(doc) {
		t.Fatalf("restore after recovery: %v", err)
	}
	_, _, err = c.RecoverV2(ctx, "Ünal", code, "fourth", client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
	if _, _, err := c.RecoverV2(ctx, "Ünal", code2, "a fourth password", client.V2Options{}); err != nil {
		t.Fatalf("the new code: %v", err)
	}
	rec, err = c.LoginV2(ctx, "Ünal", "a fourth password", client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}

	// Deleting a backup, then the account.
	if err := rec.DeleteBackup(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = rec.Restore(ctx, id, 0)
	wantAPIError(t, err, 404, client.ErrNotFound)
	if err := rec.DeleteAccount(ctx, "a fourth password"); err != nil {
		t.Fatal(err)
	}
	_, err = c.LoginV2(ctx, "Ünal", "a fourth password", client.V2Options{})
	wantAPIError(t, err, 401, client.ErrWrongPassword)
}

func TestV2RaisesIterationsAtLogin(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.KDFIterations = 650_000 })
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()
	// An account made at the floor, below the server's setting.
	if _, _, err := c.RegisterV2(ctx, "raise", password, client.V2Options{Iterations: v2crypto.MinIterations}); err != nil {
		t.Fatal(err)
	}
	sess, err := c.LoginV2(ctx, "raise", password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sess.State().KDF.Iterations != 650_000 {
		t.Errorf("iterations after the login: %d", sess.State().KDF.Iterations)
	}
	if _, err := sess.Backups(ctx); err != nil {
		t.Errorf("the raised session: %v", err)
	}
	again, err := c.LoginV2(ctx, "raise", password, client.V2Options{})
	if err != nil || again.State().KDF.Iterations != 650_000 || again.State().KDF.Salt != sess.State().KDF.Salt {
		t.Fatalf("login after the raise: %+v, %v", again.State().KDF, err)
	}
}

func TestV2UpgradeAgainstTheServer(t *testing.T) {
	s := startServer(t)
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()
	v1 := newAccount(t, c, "Veteran", password)
	if err := v1.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{`{"old":1}`, `{"old":2}`} {
		if _, err := v1.SaveDocument(ctx, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	_, code, err := c.UpgradeV1(ctx, "Veteran", "not the password", client.V2Options{})
	wantAPIError(t, err, 404, client.ErrNotFound)
	if code != "" {
		t.Error("a refused upgrade returned a recovery code")
	}
	seen := &client.FileSeenStore{Path: filepath.Join(t.TempDir(), "seen.json")}
	sess, code, err := c.UpgradeV1(ctx, "Veteran", password, client.V2Options{Seen: seen})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if _, err := v2crypto.ParseRecoveryCode(code); err != nil {
		t.Fatal(err)
	}
	// The v1 key is retired; a v1 save under the name is refused.
	_, err = v1.RestoreDocument(ctx)
	wantAPIError(t, err, 404, client.ErrNotFound)
	_, err = v1.SaveDocument(ctx, []byte(`{}`))
	wantAPIError(t, err, 409, client.ErrMovedToV2)

	list, err := sess.Backups(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("backups: %+v, %v", list, err)
	}
	id := list[0].ID
	for v, want := range map[int64]string{1: `{"old":1}`, 2: `{"old":2}`} {
		got, err := sess.Restore(ctx, id, v)
		if err != nil || !got.Legacy || string(got.Plaintext) != want {
			t.Fatalf("v1 version %d: %+v, %v", v, got, err)
		}
	}
	if res, err := sess.Save(ctx, id, []byte(`{"new":3}`)); err != nil || res.Version != 3 {
		t.Fatalf("save after the upgrade: %+v, %v", res, err)
	}
	// After a password change the v1 versions still open: the v1 key is
	// kept under the data key, not the password.
	if err := sess.ChangePassword(ctx, password, "newer password"); err != nil {
		t.Fatal(err)
	}
	later, err := c.LoginV2(ctx, "veteran", "newer password", client.V2Options{Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := later.Restore(ctx, id, 1); err != nil || string(got.Plaintext) != `{"old":1}` {
		t.Fatalf("v1 version after a password change: %v", err)
	}
	if got, err := later.Restore(ctx, id, 0); err != nil || got.Legacy || string(got.Plaintext) != `{"new":3}` {
		t.Fatalf("newest: %+v, %v", got, err)
	}

	// A device that saw a newer version than the server now serves
	// notices (here: the record says 5).
	if err := seen.Record(later.AccountID(), id, 5); err != nil {
		t.Fatal(err)
	}
	got, err := later.Restore(ctx, id, 0)
	var rb *client.RollbackError
	if !errors.As(err, &rb) || rb.Seen != 5 || rb.Got != 3 || string(got.Plaintext) != `{"new":3}` {
		t.Fatalf("rollback: %+v, %v", got, err)
	}
}

// A username with v1 backups under two passwords (an older one kept) moves
// both into one account: the newest by the upgrade, the other on the
// account's own password, each with its own v1 key.
func TestV2AddAnOlderV1BackupAgainstTheServer(t *testing.T) {
	s := startServer(t)
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()
	older := newAccount(t, c, "twice", "the older password")
	if err := older.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := older.SaveDocument(ctx, []byte(`{"older":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := newAccount(t, c, "twice", password).SaveDocument(ctx, []byte(`{"newer":1}`)); err != nil {
		t.Fatal(err)
	}
	sess, _, err := c.UpgradeV1(ctx, "twice", password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The older backup is still v1 until it is added.
	if got, err := older.RestoreDocument(ctx); err != nil || string(got) != `{"older":1}` {
		t.Fatalf("the older v1 backup before it is added: %q, %v", got, err)
	}
	_, err = sess.AddV1Backup(ctx, "twice", "the older password", "not the password")
	wantIs(t, err, client.ErrWrongPassword)
	_, err = sess.AddV1Backup(ctx, "twice", "no such password", password)
	wantAPIError(t, err, 404, client.ErrNotFound)
	if _, err := sess.AddV1Backup(ctx, "someone else", "the older password", password); err == nil {
		t.Error("added a backup of another username")
	}
	id, err := sess.AddV1Backup(ctx, "twice", "the older password", password)
	if err != nil {
		t.Fatalf("add the older backup: %v", err)
	}
	got, err := sess.Restore(ctx, id, 0)
	if err != nil || !got.Legacy || string(got.Plaintext) != `{"older":1}` {
		t.Fatalf("the added backup: %+v, %v", got, err)
	}
	list, err := sess.Backups(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("backups: %+v, %v", list, err)
	}
	_, err = older.RestoreDocument(ctx)
	wantAPIError(t, err, 404, client.ErrNotFound)
}
