package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
	"github.com/dailyreps/backup/client/v2fake"
)

// These tests drive the protocol v2 flows against v2fake, which checks the
// wire format strictly and can refuse or tamper on demand; v2_server_test.go
// runs the same flows against the real server.

const v2User = "Zoë"

func fakeClient(t *testing.T) (*v2fake.Server, *client.Client) {
	t.Helper()
	f := v2fake.New(t)
	return f, &client.Client{BaseURL: f.URL}
}

func mustRegister(t *testing.T, c *client.Client, opts client.V2Options) (*client.Session, string) {
	t.Helper()
	s, code, err := c.RegisterV2(context.Background(), v2User, password, opts)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return s, code
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want %v", err, target)
	}
}

func TestV2RegisterSaveRestore(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	s, code := mustRegister(t, c, client.V2Options{InviteCode: "invite-1"})
	if _, err := v2crypto.ParseRecoveryCode(code); err != nil {
		t.Fatalf("recovery code %q: %v", code, err)
	}
	if f.Invites[0] != "invite-1" {
		t.Errorf("invite sent as %q", f.Invites[0])
	}
	if s.AccountID() != client.UserID(v2User) {
		t.Errorf("account id %s", s.AccountID())
	}
	id := client.NewBackupID()
	doc := []byte(strings.Repeat(`{"reps":20}`, 100))
	for want := int64(1); want <= 2; want++ {
		res, err := s.Save(ctx, id, doc)
		if err != nil || res.Version != want {
			t.Fatalf("save %d: %+v, %v", want, res, err)
		}
	}
	stored := f.Accounts[s.AccountID()].Backups[id].Versions[1].Data
	if !strings.Contains(stored, `"z":"gzip"`) || strings.Contains(stored, "reps") {
		t.Errorf("stored %s: want a compressed v2 envelope", stored)
	}
	got, err := s.Restore(ctx, id, 0)
	if err != nil || !bytes.Equal(got.Plaintext, doc) || got.Version != 2 || got.Legacy {
		t.Fatalf("restore: %+v, %v", got, err)
	}
	if got, err = s.Restore(ctx, id, 1); err != nil || got.Version != 1 {
		t.Fatalf("restore version 1: %+v, %v", got, err)
	}
	list, err := s.Backups(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Version != 2 {
		t.Fatalf("backups: %+v, %v", list, err)
	}
	versions, err := s.Versions(ctx, id)
	if err != nil || len(versions) != 2 || versions[0].Version != 2 {
		t.Fatalf("versions: %+v, %v", versions, err)
	}
	info, err := s.Account(ctx)
	if err != nil || info.Backups != 1 || info.Versions != 2 || len(info.Events) != 1 {
		t.Fatalf("account: %+v, %v", info, err)
	}
	if err := s.DeleteBackup(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = s.Restore(ctx, id, 0)
	wantIs(t, err, client.ErrNotFound)
	// A backup id that would change the request's path is refused here.
	before := len(f.Requests)
	_, err = s.Restore(ctx, "../account", 0)
	if err == nil || len(f.Requests) != before {
		t.Errorf("a malformed backup id: %v, %d requests", err, len(f.Requests)-before)
	}
}

func TestV2RegisterRefusals(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	mustRegister(t, c, client.V2Options{})
	_, code, err := c.RegisterV2(ctx, "zoë", password, client.V2Options{})
	wantIs(t, err, client.ErrAlreadyRegistered)
	if code != "" {
		t.Error("a refused registration returned a recovery code")
	}
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.URL.Path == "/api/v2/register" {
			return 429, `{"error":"Too many registrations."}`, http.Header{"Retry-After": {"60"}}
		}
		return 0, "", nil
	}
	_, _, err = c.RegisterV2(ctx, "other", password, client.V2Options{})
	wantIs(t, err, client.ErrRateLimited)
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter.Seconds() != 60 {
		t.Errorf("retry after: %v", err)
	}
	if _, _, err := c.RegisterV2(ctx, "other", password, client.V2Options{Iterations: 1000}); err == nil {
		t.Error("registered with 1000 iterations")
	}
	// A code not confirmed stops the registration before it is sent.
	refused := errors.New("not kept")
	var shown string
	_, _, err = c.RegisterV2(ctx, "other", password, client.V2Options{ConfirmRecoveryCode: func(code string) error {
		shown = code
		return refused
	}})
	wantIs(t, err, refused)
	if _, perr := v2crypto.ParseRecoveryCode(shown); perr != nil || f.Count("POST /api/v2/register") != 3 {
		t.Errorf("shown %q; %d registrations sent", shown, f.Count("POST /api/v2/register"))
	}
	f.Protocols = []string{"v1"}
	_, _, err = c.RegisterV2(ctx, "other", password, client.V2Options{})
	wantIs(t, err, client.ErrNoV2)
	if _, _, err := c.RegisterV2(ctx, "", password, client.V2Options{}); err == nil {
		t.Error("registered an empty username")
	}
}

func TestV2LoginAndWrongPassword(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	first, _ := mustRegister(t, c, client.V2Options{})
	id := client.NewBackupID()
	if _, err := first.Save(ctx, id, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	s, err := c.LoginV2(ctx, "ZOË", password, client.V2Options{})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if got, err := s.Restore(ctx, id, 0); err != nil || string(got.Plaintext) != `{"a":1}` {
		t.Fatalf("restore after login: %q, %v", got.Plaintext, err)
	}
	_, err = c.LoginV2(ctx, v2User, "wrong", client.V2Options{})
	wantIs(t, err, client.ErrWrongPassword)
	// An unknown user gets a fake salt and the same refusal.
	_, err = c.LoginV2(ctx, "nobody", password, client.V2Options{})
	wantIs(t, err, client.ErrWrongPassword)

	// A server that accepts the key but sends a wrapped key that does not
	// open (altered, or another account's) is caught.
	acct := f.Accounts[client.UserID(v2User)]
	good := acct.WrappedKey
	raw, _ := base64.StdEncoding.DecodeString(good)
	raw[20] ^= 1
	acct.WrappedKey = base64.StdEncoding.EncodeToString(raw)
	_, err = c.LoginV2(ctx, v2User, password, client.V2Options{})
	wantIs(t, err, client.ErrKeyUnwrap)
	acct.WrappedKey = good

	// Logout ends the session; the server then asks to sign in again.
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.Backups(ctx)
	wantIs(t, err, client.ErrSignInAgain)
}

func TestV2LoginRaisesIterations(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	mustRegister(t, c, client.V2Options{})
	before := f.Accounts[client.UserID(v2User)].KDF
	f.Iterations = 700_000
	s, err := c.LoginV2(ctx, v2User, password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	after := f.Accounts[client.UserID(v2User)].KDF
	if after.Iterations != 700_000 || after.Salt == before.Salt {
		t.Fatalf("kdf after the raise: %+v (before %+v)", after, before)
	}
	if f.Count("POST /api/v2/password") != 1 {
		t.Errorf("%d password calls", f.Count("POST /api/v2/password"))
	}
	if _, err := s.Backups(ctx); err != nil {
		t.Errorf("the session after the raise: %v", err)
	}
	// The same password still opens the account under the new parameters.
	if _, err := c.LoginV2(ctx, v2User, password, client.V2Options{}); err != nil {
		t.Fatal(err)
	}
	if f.Count("POST /api/v2/password") != 1 {
		t.Error("raised again although the account is current")
	}

	// A raise the server refuses leaves the login itself intact.
	f.Iterations = 800_000
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.URL.Path == "/api/v2/password" {
			return 503, `{"error":"busy"}`, nil
		}
		return 0, "", nil
	}
	if s, err = c.LoginV2(ctx, v2User, password, client.V2Options{}); err != nil {
		t.Fatalf("login with a failed raise: %v", err)
	}
	if _, err := s.Backups(ctx); err != nil {
		t.Error(err)
	}
}

func TestV2SaveRetriesOnceAfterAConcurrentSave(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	s, _ := mustRegister(t, c, client.V2Options{})
	other, err := c.LoginV2(ctx, v2User, password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := client.NewBackupID()
	if _, err := s.Save(ctx, id, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	// Another device saves between this one's read and its upload.
	var raced bool
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.Method == http.MethodPut && !raced {
			raced = true
			f.Answer = nil
			if _, err := other.Save(ctx, id, []byte(`{"n":"other"}`)); err != nil {
				t.Error(err)
			}
		}
		return 0, "", nil
	}
	res, err := s.Save(ctx, id, []byte(`{"n":3}`))
	if err != nil || res.Version != 3 {
		t.Fatalf("save after a race: %+v, %v", res, err)
	}
	if got, err := s.Restore(ctx, id, 3); err != nil || string(got.Plaintext) != `{"n":3}` {
		t.Fatalf("version 3: %q, %v", got.Plaintext, err)
	}

	// A server that refuses every version gets one retry, then ErrStale.
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.Method == http.MethodPut {
			return 412, `{"error":"Not the next version."}`, http.Header{"Etag": {`"9"`}}
		}
		return 0, "", nil
	}
	puts := f.Count("PUT /api/v2/backups/" + id)
	_, err = s.Save(ctx, id, []byte(`{}`))
	wantIs(t, err, client.ErrStale)
	if n := f.Count("PUT /api/v2/backups/"+id) - puts; n != 2 {
		t.Errorf("%d uploads, want 2", n)
	}
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.Method == http.MethodPut {
			return 413, `{"error":"Over quota."}`, nil
		}
		return 0, "", nil
	}
	_, err = s.Save(ctx, id, []byte(`{}`))
	wantIs(t, err, client.ErrTooLarge)
}

func TestV2RestoreCatchesSwapsAndRollbacks(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	seen := &client.FileSeenStore{Path: filepath.Join(t.TempDir(), "state", "seen.json")}
	s, _ := mustRegister(t, c, client.V2Options{Seen: seen})
	a, b := client.NewBackupID(), client.NewBackupID()
	for _, id := range []string{a, a, a, b} {
		if _, err := s.Save(ctx, id, []byte(`{"backup":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	acct := f.Accounts[s.AccountID()]

	// Another backup's blob, and an old version relabelled as the newest,
	// both fail to open: the associated data names backup and version.
	saved := acct.Backups[a].Versions[2].Data
	acct.Backups[a].Versions[2].Data = acct.Backups[b].Versions[0].Data
	_, err := s.Restore(ctx, a, 0)
	wantIs(t, err, client.ErrDecrypt)
	acct.Backups[a].Versions[2].Data = acct.Backups[a].Versions[1].Data
	_, err = s.Restore(ctx, a, 0)
	wantIs(t, err, client.ErrDecrypt)
	acct.Backups[a].Versions[2].Data = saved

	// An authentic old version served as the newest is a rollback.
	acct.Backups[a].Versions = acct.Backups[a].Versions[:2]
	got, err := s.Restore(ctx, a, 0)
	var rb *client.RollbackError
	if !errors.As(err, &rb) || rb.Seen != 3 || rb.Got != 2 || got.Version != 2 {
		t.Fatalf("restore of a rolled-back backup: %+v, %v", got, err)
	}
	_, err = s.Save(ctx, a, []byte(`{}`))
	if !errors.As(err, &rb) {
		t.Fatalf("save onto a rolled-back backup: %v", err)
	}
	// The record lives in the file: another session, as a later run of
	// the command, notices too.
	later, err := c.LoginV2(ctx, v2User, password, client.V2Options{Seen: &client.FileSeenStore{Path: seen.Path}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := later.Restore(ctx, a, 0); !errors.As(err, &rb) {
		t.Fatalf("a later session: %v", err)
	}
	if info, err := os.Stat(seen.Path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("seen file: %v, %v", info, err)
	}
	// A version asked for by number is no rollback, and a server that
	// answers another number is caught.
	if _, err := later.Restore(ctx, a, 1); err != nil {
		t.Error(err)
	}
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.URL.Query().Get("version") == "1" {
			return 200, `{"data":"{}","version":2,"updatedAt":"2026-03-01T10:00:00Z"}`, nil
		}
		return 0, "", nil
	}
	if _, err := later.Restore(ctx, a, 1); err == nil || !strings.Contains(err.Error(), "sent 2") {
		t.Errorf("another version than asked: %v", err)
	}
}

func TestV2PasswordChangeAndRecovery(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	s, code := mustRegister(t, c, client.V2Options{})
	id := client.NewBackupID()
	if _, err := s.Save(ctx, id, []byte(`{"kept":true}`)); err != nil {
		t.Fatal(err)
	}
	// A wrong current password is caught here, before any request.
	before := len(f.Requests)
	wantIs(t, s.ChangePassword(ctx, "not it", "new password"), client.ErrWrongPassword)
	if len(f.Requests) != before {
		t.Error("a wrong current password reached the server")
	}
	if err := s.ChangePassword(ctx, password, "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginV2(ctx, v2User, password, client.V2Options{}); !errors.Is(err, client.ErrWrongPassword) {
		t.Errorf("the old password still logs in: %v", err)
	}
	s2, err := c.LoginV2(ctx, v2User, "new password", client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Restore(ctx, id, 0); err != nil || string(got.Plaintext) != `{"kept":true}` {
		t.Fatalf("restore after the change: %v", err)
	}

	// Recovery: a malformed code fails here, a wrong one at the server.
	before = len(f.Requests)
	if _, _, err := c.RecoverV2(ctx, v2User, "not a code", "third", client.V2Options{}); err == nil || len(f.Requests) != before {
		t.Errorf("malformed code: %v", err)
	}
	wrong, _ := v2crypto.FormatRecoveryCode(make([]byte, 20))
	_, _, err = c.RecoverV2(ctx, v2User, wrong, "third", client.V2Options{})
	wantIs(t, err, client.ErrWrongPassword)

	s3, code2, err := c.RecoverV2(ctx, v2User, strings.ToLower(code), "third", client.V2Options{})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if code2 == code || code2 == "" {
		t.Errorf("recovery returned %q after %q", code2, code)
	}
	if got, err := s3.Restore(ctx, id, 0); err != nil || string(got.Plaintext) != `{"kept":true}` {
		t.Fatalf("restore after recovery: %v", err)
	}
	_, err = s2.Backups(ctx)
	wantIs(t, err, client.ErrSignInAgain)
	if _, _, err := c.RecoverV2(ctx, v2User, code, "fourth", client.V2Options{}); !errors.Is(err, client.ErrWrongPassword) {
		t.Errorf("the used code works again: %v", err)
	}
	if _, err := c.LoginV2(ctx, v2User, "third", client.V2Options{}); err != nil {
		t.Fatal(err)
	}

	// Deleting the account asks for the password again.
	wantIs(t, s3.DeleteAccount(ctx, "new password"), client.ErrWrongPassword)
	if err := s3.DeleteAccount(ctx, "third"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoginV2(ctx, v2User, "third", client.V2Options{}); !errors.Is(err, client.ErrWrongPassword) {
		t.Errorf("login after deletion: %v", err)
	}
}

func TestV2ResumeAndUnlock(t *testing.T) {
	_, c := fakeClient(t)
	ctx := context.Background()
	s, _ := mustRegister(t, c, client.V2Options{})
	id := client.NewBackupID()
	if _, err := s.Save(ctx, id, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	resumed := c.ResumeV2(s.State(), client.V2Options{})
	if _, err := resumed.Backups(ctx); err != nil {
		t.Fatalf("a resumed session lists: %v", err)
	}
	_, err := resumed.Restore(ctx, id, 0)
	wantIs(t, err, client.ErrLocked)
	wantIs(t, resumed.Unlock("wrong"), client.ErrWrongPassword)
	if err := resumed.Unlock(password); err != nil {
		t.Fatal(err)
	}
	if got, err := resumed.Restore(ctx, id, 0); err != nil || string(got.Plaintext) != `{"x":1}` {
		t.Fatalf("restore after unlock: %v", err)
	}
}

func TestV1SaveOfAMovedUsername(t *testing.T) {
	_, c := fakeClient(t)
	mustRegister(t, c, client.V2Options{})
	account := newAccount(t, c, v2User, password)
	_, err := account.SaveDocument(context.Background(), []byte(`{}`))
	wantIs(t, err, client.ErrMovedToV2)
}

func TestV2UpgradeResumesAfterALostAnswer(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	v1 := newAccount(t, c, v2User, password)
	for _, doc := range []string{`{"old":1}`, `{"old":2}`} {
		if _, err := v1.SaveDocument(ctx, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	// The first upgrade is done but its answer lost; the second attempt
	// never arrives; the third carries the same material and is answered.
	attempt := 0
	var bodies []string
	f.Fault = func(r *http.Request) v2fake.Fault {
		if r.URL.Path != "/api/v2/upgrade" {
			return v2fake.Serve
		}
		attempt++
		switch attempt {
		case 1:
			return v2fake.DropAfter
		case 2:
			return v2fake.DropBefore
		}
		return v2fake.Serve
	}
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		if r.URL.Path == "/api/v2/upgrade" {
			var b bytes.Buffer
			_, _ = b.ReadFrom(r.Body)
			bodies = append(bodies, b.String())
			r.Body = readCloser{bytes.NewReader(b.Bytes())}
		}
		return 0, "", nil
	}
	s, code, err := c.UpgradeV1(ctx, v2User, password, client.V2Options{})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if attempt != 3 || len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Fatalf("%d attempts; the repeated material differs: %v", attempt, len(bodies) == 2 && bodies[0] != bodies[1])
	}
	if _, err := v2crypto.ParseRecoveryCode(code); err != nil {
		t.Fatal(err)
	}
	list, err := s.Backups(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("backups after the upgrade: %+v, %v", list, err)
	}
	for v, want := range map[int64]string{1: `{"old":1}`, 2: `{"old":2}`} {
		got, err := s.Restore(ctx, list[0].ID, v)
		if err != nil || string(got.Plaintext) != want || !got.Legacy {
			t.Fatalf("v1 version %d: %+v, %v", v, got, err)
		}
	}
	// The newest is sealed under v2 from now on, as the next number.
	if res, err := s.Save(ctx, list[0].ID, []byte(`{"new":3}`)); err != nil || res.Version != 3 {
		t.Fatalf("save after the upgrade: %+v, %v", res, err)
	}
	if got, err := s.Restore(ctx, list[0].ID, 0); err != nil || got.Legacy || string(got.Plaintext) != `{"new":3}` {
		t.Fatalf("restore after the upgrade: %+v, %v", got, err)
	}
	// A login (another device) reads the v1 versions too.
	s2, err := c.LoginV2(ctx, v2User, password, client.V2Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Restore(ctx, list[0].ID, 1); err != nil || string(got.Plaintext) != `{"old":1}` {
		t.Fatalf("v1 version from another device: %v", err)
	}
}

func TestV2UpgradeRefusals(t *testing.T) {
	f, c := fakeClient(t)
	ctx := context.Background()
	// No v1 backup under these credentials: refused at once, no code.
	_, code, err := c.UpgradeV1(ctx, "nobody", password, client.V2Options{})
	wantIs(t, err, client.ErrNotFound)
	if code != "" || f.Count("POST /api/v2/upgrade") != 1 {
		t.Errorf("code %q after %d attempts", code, f.Count("POST /api/v2/upgrade"))
	}
	// A server that keeps failing is tried a bounded number of times.
	f.Answer = func(r *http.Request) (int, string, http.Header) {
		return 500, `{"error":"boom"}`, nil
	}
	_, code, err = c.UpgradeV1(ctx, "nobody", password, client.V2Options{Iterations: 600_000})
	if code != "" || err == nil || f.Count("POST /api/v2/upgrade") != 5 {
		t.Errorf("after a failing server: %q, %v, %d attempts", code, err, f.Count("POST /api/v2/upgrade"))
	}
	// A cancelled context stops the retries.
	f.Answer = nil
	f.Fault = func(*http.Request) v2fake.Fault { return v2fake.DropBefore }
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.UpgradeV1(cctx, "nobody", password, client.V2Options{Iterations: 600_000}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
