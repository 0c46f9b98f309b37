package routes_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

var id = servertest.ID

// newServer starts a test server with the limits that would get in the way
// of functional tests turned off; each test turns on what it checks.
func newServer(t *testing.T, edit ...func(*config.Config)) *servertest.Server {
	t.Helper()
	return servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
		for _, e := range edit {
			e(c)
		}
	}))
}

// envelope is a well-formed data value with a ciphertext of n bytes.
func envelope(n int, fill byte) string {
	ct := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(fill), n)))
	b, _ := json.Marshal(map[string]string{"encrypted": ct, "nonce": "AAECAwQFBgcICQoL"})
	return string(b)
}

func register(t *testing.T, s *servertest.Server, user string) {
	t.Helper()
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": user}})
	if r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
}

func saveReq(user, key, data string) servertest.Request {
	return servertest.Request{Method: "POST", Path: "/api/backup",
		Body: map[string]string{"userId": user, "storageKey": key, "data": data}}
}

func save(t *testing.T, s *servertest.Server, user, key, data string) *servertest.Response {
	t.Helper()
	r := s.Do(saveReq(user, key, data))
	if r.Status != http.StatusOK {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	return r
}

func getPath(user, key string) string {
	return fmt.Sprintf("/api/backup?userId=%s&storageKey=%s", user, key)
}

func get(s *servertest.Server, user, key string) *servertest.Response {
	return s.Do(servertest.Request{Method: "GET", Path: getPath(user, key)})
}

func deleteReq(user, key string) servertest.Request {
	return servertest.Request{Method: "DELETE", Path: "/api/user", Body: map[string]string{"userId": user, "storageKey": key}}
}

// expectError checks the status and that the body is exactly {"error": "..."}.
func expectError(t *testing.T, r *servertest.Response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || len(m) != 1 {
		t.Fatalf("error body is not {\"error\"}: %s", r.Body)
	}
	msg, ok := m["error"].(string)
	if !ok || msg == "" {
		t.Fatalf("error body is not {\"error\": string}: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return msg
}

func ptr(s string) *string { return &s }
