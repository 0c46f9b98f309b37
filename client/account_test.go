package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
)

// backupStore answers save and get like the server, keeping every version.
func backupStore(t *testing.T, versions *[]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/backup":
			var body struct{ UserID, StorageKey, Data string }
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("save body: %v", err)
			}
			*versions = append(*versions, body.Data)
			respond(200, fmt.Sprintf(`{"success":true,"updatedAt":"2025-03-01T10:20:30Z","version":%d}`, len(*versions)))(w, r)
		case r.Method == "GET" && r.URL.Path == "/api/backup":
			version := len(*versions)
			if v := r.URL.Query().Get("version"); v != "" {
				version, _ = strconv.Atoi(v)
			}
			if version < 1 || version > len(*versions) {
				respond(404, `{"error":"no such backup"}`)(w, r)
				return
			}
			data, _ := json.Marshal((*versions)[version-1])
			respond(200, fmt.Sprintf(`{"data":%s,"updatedAt":"2025-03-01T10:20:30Z","version":%d}`, data, version))(w, r)
		default:
			respond(200, `{"success":true,"versions":[],"events":[]}`)(w, r)
		}
	}
}

func testAccount(t *testing.T, handler http.HandlerFunc) (*Account, *recorder) {
	t.Helper()
	c, rec := newTestClient(t, handler)
	return NewAccountWithIdentity(c, Identity{Credentials: testCreds, EncryptionKey: testKey(9)}), rec
}

func TestAccountSavesSealedAndRestores(t *testing.T) {
	var versions []string
	a, _ := testAccount(t, backupStore(t, &versions))
	ctx := context.Background()

	for i, doc := range []string{`{"streak":1}`, `{"streak":2}`} {
		result, err := a.SaveDocument(ctx, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if result.Version != int64(i+1) {
			t.Errorf("save %d returned version %d", i+1, result.Version)
		}
	}
	for _, stored := range versions {
		if _, err := Open(testKey(9), stored); err != nil {
			t.Errorf("server received data that does not open with the account key: %v", err)
		}
	}

	latest, err := a.RestoreDocument(ctx)
	if err != nil || string(latest) != `{"streak":2}` {
		t.Errorf("RestoreDocument = %s, %v", latest, err)
	}
	first, err := a.RestoreVersion(ctx, 1)
	if err != nil || string(first) != `{"streak":1}` {
		t.Errorf("RestoreVersion(1) = %s, %v", first, err)
	}
	if _, err := a.RestoreVersion(ctx, 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("RestoreVersion(9) = %v, want ErrNotFound", err)
	}
}

func TestAccountWithWrongKeyCannotRestore(t *testing.T) {
	var versions []string
	a, rec := testAccount(t, backupStore(t, &versions))
	if _, err := a.SaveDocument(context.Background(), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	other := NewAccountWithIdentity(&Client{BaseURL: a.client.BaseURL}, Identity{Credentials: testCreds, EncryptionKey: testKey(8)})
	if _, err := other.RestoreDocument(context.Background()); !errors.Is(err, ErrDecrypt) {
		t.Errorf("restore with another key = %v, want ErrDecrypt", err)
	}
	if n := len(rec.seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestAccountPassesCredentials(t *testing.T) {
	a, rec := testAccount(t, respond(200, `{"success":true}`))
	ctx := context.Background()
	if a.UserID() != testCreds.UserID {
		t.Errorf("UserID = %s", a.UserID())
	}
	if err := a.Register(ctx, "code"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Versions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Activity(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Usage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /api/register", "GET /api/backup/versions", "GET /api/backup/activity", "GET /api/usage", "DELETE /api/user"}
	seen := rec.seen()
	if len(seen) != len(want) {
		t.Fatalf("server saw %d requests, want %d", len(seen), len(want))
	}
	for i, got := range seen {
		if got.Method+" "+got.Path != want[i] {
			t.Errorf("request %d = %s %s, want %s", i, got.Method, got.Path, want[i])
		}
		if got.Method == "GET" {
			assertCredentialsQuery(t, got, "")
		}
	}
	if seen[0].Header.Get("X-Invite-Code") != "code" {
		t.Error("invite code not passed on")
	}
}

func TestNewAccountDerivesTheIdentity(t *testing.T) {
	a, err := NewAccount(&Client{}, "Alice", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if a.UserID() != UserID("alice") || a.id.Credentials.StorageKey != StorageKey(UserID("alice"), "correct horse battery staple") {
		t.Errorf("account identity = %v", a.id)
	}
	if _, err := NewAccount(&Client{}, "", "pw"); err == nil {
		t.Error("empty username accepted")
	}
}

func TestSaveDocumentWithBadKeyFailsBeforeSending(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{}`))
	a := NewAccountWithIdentity(c, Identity{Credentials: testCreds, EncryptionKey: []byte("short")})
	if _, err := a.SaveDocument(context.Background(), []byte("{}")); err == nil {
		t.Error("saved with a malformed key")
	}
	if n := len(rec.seen()); n != 0 {
		t.Errorf("server saw %d requests", n)
	}
}
