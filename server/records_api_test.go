package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/servertest"
)

// PocketBase serves a generic records API and realtime subscriptions for
// every collection. The app's collections keep their rules nil (superusers
// only): an anonymous caller lists, views, creates, updates and deletes
// nothing, learns nothing of what is stored, and a realtime subscription
// receives no record event, neither for the app's own saves nor for a record
// changed through PocketBase as the dashboard would.
func TestRecordsAPIGivesAnonymousNothing(t *testing.T) {
	s := servertest.New(t)
	user, key := servertest.ID("records-api-user"), servertest.ID("records-api-key")
	if r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": user}}); r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	data := sealed("records-api-secret-blob")
	if r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup",
		Body: map[string]string{"userId": user, "storageKey": key, "data": data}}); r.Status != http.StatusOK {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	var userID, storageKey string
	if err := s.DB().NewQuery(`SELECT u.id, b.storage_key FROM users u JOIN backups b ON b.user_id = u.id`).
		Row(&userID, &storageKey); err != nil {
		t.Fatal(err)
	}
	// On SQLite the backup is also a PocketBase record with an id of its
	// own; PostgreSQL's backups are not records at all.
	backupID := storageKey
	if !servertest.Postgres() {
		if err := s.DB().NewQuery(`SELECT id FROM backups`).Row(&backupID); err != nil {
			t.Fatal(err)
		}
	}
	// What no answer may carry: the stored ids, the blob.
	stored := []string{userID, backupID, storageKey, data[:40]}
	before := s.Snapshot()

	ids := map[string]string{"users": userID, "backups": backupID}
	for _, collection := range []string{"users", "backups", "backup_history", "activity", "invites"} {
		base := "/api/collections/" + collection + "/records"
		id := ids[collection]
		if id == "" {
			id = userID
		}
		fields := map[string]any{"id": servertest.ID("records-api-new"), "user_id": userID,
			"storage_key": servertest.ID("records-api-new-key"), "encrypted_data": data, "version": 1, "size": 1}
		for _, r := range []servertest.Request{
			{Method: "GET", Path: base},
			{Method: "GET", Path: base + "?filter=" + "id%21%3D%27%27"},
			{Method: "GET", Path: base + "/" + id},
			{Method: "POST", Path: base, Body: fields},
			{Method: "PATCH", Path: base + "/" + id, Body: fields},
			{Method: "DELETE", Path: base + "/" + id},
		} {
			resp := s.Do(r)
			if resp.Status < 400 {
				t.Errorf("anonymous %s %s: %d %.300s", r.Method, r.Path, resp.Status, resp.Body)
			}
			for _, v := range stored {
				if strings.Contains(strings.ToLower(string(resp.Body)), strings.ToLower(v)) {
					t.Errorf("anonymous %s %s answered with stored data: %.300s", r.Method, r.Path, resp.Body)
				}
			}
		}
	}
	if r := s.Do(servertest.Request{Method: "GET", Path: "/api/collections"}); r.Status < 400 {
		t.Errorf("anonymous GET /api/collections: %d", r.Status)
	}
	s.Unchanged(before)

	events, subscribed := subscribe(t, s, "users", "users/*", "backups", "backups/*", "users/"+userID, "backups/"+backupID)
	if !subscribed {
		return // realtime is off: nothing to subscribe to
	}
	// The app's own saves, and records written through PocketBase.
	if r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup",
		Body: map[string]string{"userId": user, "storageKey": key, "data": sealed("a second version")}}); r.Status != http.StatusOK {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	throughPocketBase(t, s.App)
	select {
	case e := <-events:
		t.Fatalf("an anonymous subscriber received %q", e)
	case <-time.After(1500 * time.Millisecond):
	}
}

// subscribe opens a realtime stream and subscribes it to topics, returning
// the stream's events after PB_CONNECT; false when realtime is switched off
// (404).
func subscribe(t *testing.T, s *servertest.Server, topics ...string) (<-chan string, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, false
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/realtime: %d", resp.StatusCode)
	}
	events := make(chan string, 16)
	connected := make(chan string, 1)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimPrefix(line, "event:")
			case strings.HasPrefix(line, "data:") && name == "PB_CONNECT":
				var c struct {
					ClientID string `json:"clientId"`
				}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &c)
				connected <- c.ClientID
			case strings.HasPrefix(line, "data:"):
				events <- name + " " + line
			}
		}
	}()
	var clientID string
	select {
	case clientID = <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("no PB_CONNECT on the realtime stream")
	}
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/realtime",
		Body: map[string]any{"clientId": clientID, "subscriptions": topics}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	return events, true
}

// throughPocketBase creates, updates and deletes a user and a backup with
// PocketBase's own model API, which broadcasts realtime events.
func throughPocketBase(t *testing.T, app core.App) {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	backups, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		t.Fatal(err)
	}
	u := core.NewRecord(users)
	u.Set("id", servertest.ID("dashboard-user"))
	b := core.NewRecord(backups)
	b.Set("storage_key", servertest.ID("dashboard-key"))
	b.Set("user_id", u.Id)
	b.Set("encrypted_data", sealed("dashboard"))
	b.Set("version", 1)
	for _, step := range []func() error{
		func() error { return app.Save(u) },
		func() error { b.Set("user_id", u.Id); return app.Save(b) },
		func() error { b.Set("version", 2); return app.Save(b) },
		func() error { return app.Delete(b) },
		func() error { return app.Delete(u) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
}

// sealed is a v1 data envelope whose ciphertext holds text.
func sealed(text string) string {
	b, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString([]byte(text + strings.Repeat(".", 32))),
		"nonce":     base64.StdEncoding.EncodeToString(make([]byte, 12)),
	})
	return string(b)
}
