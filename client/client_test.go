package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var testCreds = Credentials{
	UserID:     strings.Repeat("a", 64),
	StorageKey: strings.Repeat("5", 64),
}

// request is what a test server saw.
type request struct {
	Method     string
	Path       string
	RawQuery   string
	RequestURI string
	Header     http.Header
	Body       string
}

// recorder is an httptest server that records requests and answers each
// with the handler the test gives it.
type recorder struct {
	mu       sync.Mutex
	requests []request
}

func (rec *recorder) seen() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.requests...)
}

func (rec *recorder) only(t *testing.T) request {
	t.Helper()
	seen := rec.seen()
	if len(seen) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(seen))
	}
	return seen[0]
}

func newTestClient(t *testing.T, handler http.HandlerFunc) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.requests = append(rec.requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.RequestURI, r.Header.Clone(), string(body)})
		rec.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(server.Close)
	return &Client{BaseURL: server.URL}, rec
}

func respond(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func assertJSONRequest(t *testing.T, got request, method, path, body string) {
	t.Helper()
	if got.Method != method || got.Path != path {
		t.Errorf("request = %s %s, want %s %s", got.Method, got.Path, method, path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if got.Body != body {
		t.Errorf("body = %s, want %s", got.Body, body)
	}
}

func assertCredentialsQuery(t *testing.T, got request, extra string) {
	t.Helper()
	want := "storageKey=" + testCreds.StorageKey + "&userId=" + testCreds.UserID + extra
	if got.RawQuery != want {
		t.Errorf("query = %s, want %s", got.RawQuery, want)
	}
}

func TestRegister(t *testing.T) {
	for _, invite := range []string{"", "let-me-in"} {
		c, rec := newTestClient(t, respond(200, `{"success":true}`))
		if err := c.Register(context.Background(), testCreds.UserID, invite); err != nil {
			t.Fatal(err)
		}
		got := rec.only(t)
		assertJSONRequest(t, got, "POST", "/api/register", `{"userId":"`+testCreds.UserID+`"}`)
		if got.Header.Get("X-Invite-Code") != invite {
			t.Errorf("X-Invite-Code = %q, want %q", got.Header.Get("X-Invite-Code"), invite)
		}
		if _, sent := got.Header["X-Invite-Code"]; invite == "" && sent {
			t.Error("an empty invite code was sent")
		}
	}
}

func TestSave(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"success":true,"updatedAt":"2025-03-01T10:20:30Z","version":8}`, "ETag", `"8"`))
	result, err := c.Save(context.Background(), testCreds, `{"encrypted":"x","nonce":"y"}`, SaveOptions{IfMatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	assertJSONRequest(t, got, "POST", "/api/backup",
		`{"userId":"`+testCreds.UserID+`","storageKey":"`+testCreds.StorageKey+`","data":"{\"encrypted\":\"x\",\"nonce\":\"y\"}"}`)
	if got.RawQuery != "" {
		t.Errorf("save put %q in the query string", got.RawQuery)
	}
	if got.Header.Get("If-Match") != `"7"` {
		t.Errorf("If-Match = %q, want \"7\"", got.Header.Get("If-Match"))
	}
	want := SaveResult{UpdatedAt: time.Date(2025, 3, 1, 10, 20, 30, 0, time.UTC), Version: 8}
	if !result.UpdatedAt.Equal(want.UpdatedAt) || result.Version != want.Version {
		t.Errorf("result = %+v, want %+v", result, want)
	}
}

func TestSaveWithoutIfMatch(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"success":true,"updatedAt":"2025-03-01T10:20:30Z","version":1}`))
	if _, err := c.Save(context.Background(), testCreds, "d", SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, sent := rec.only(t).Header["If-Match"]; sent {
		t.Error("If-Match sent for an unconditional save")
	}
}

func TestGet(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"data":"sealed","updatedAt":"2025-03-01T10:20:30Z","version":3}`, "ETag", `"3"`))
	backup, err := c.Get(context.Background(), testCreds, GetOptions{Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	if got.Method != "GET" || got.Path != "/api/backup" || got.Body != "" {
		t.Errorf("request = %s %s with body %q", got.Method, got.Path, got.Body)
	}
	assertCredentialsQuery(t, got, "&version=3")
	if _, sent := got.Header["If-None-Match"]; sent {
		t.Error("If-None-Match sent without being asked for")
	}
	if backup.NotModified || backup.Data != "sealed" || backup.Version != 3 || backup.UpdatedAt.IsZero() {
		t.Errorf("backup = %+v", backup)
	}
}

func TestGetNotModified(t *testing.T) {
	c, rec := newTestClient(t, respond(http.StatusNotModified, ""))
	backup, err := c.Get(context.Background(), testCreds, GetOptions{IfNoneMatch: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	assertCredentialsQuery(t, got, "")
	if got.Header.Get("If-None-Match") != `"5"` {
		t.Errorf("If-None-Match = %q", got.Header.Get("If-None-Match"))
	}
	if !backup.NotModified || backup.Data != "" {
		t.Errorf("backup = %+v, want NotModified only", backup)
	}
}

func TestVersions(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"versions":[{"version":2,"updatedAt":"2025-03-02T00:00:00Z","size":120},{"version":1,"updatedAt":"2025-03-01T00:00:00Z","size":100}]}`))
	versions, err := c.Versions(context.Background(), testCreds)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	if got.Method != "GET" || got.Path != "/api/backup/versions" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}
	assertCredentialsQuery(t, got, "")
	if len(versions) != 2 || versions[0].Version != 2 || versions[0].Size != 120 || versions[1].UpdatedAt.Day() != 1 {
		t.Errorf("versions = %+v", versions)
	}
}

func TestActivity(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"events":[{"type":"failed_attempt","at":"2025-03-02T10:11:00Z","count":4}]}`))
	events, err := c.Activity(context.Background(), testCreds)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	if got.Method != "GET" || got.Path != "/api/backup/activity" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}
	assertCredentialsQuery(t, got, "")
	if len(events) != 1 || events[0].Type != ActivityFailedAttempt || events[0].Count != 4 || events[0].At.Minute() != 11 {
		t.Errorf("events = %+v", events)
	}
}

func TestUsage(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"bytesUsed":10,"quotaBytes":100,"backups":1,"versions":3}`))
	usage, err := c.Usage(context.Background(), testCreds)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	if got.Method != "GET" || got.Path != "/api/usage" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}
	assertCredentialsQuery(t, got, "")
	if usage != (Usage{BytesUsed: 10, QuotaBytes: 100, Backups: 1, Versions: 3}) {
		t.Errorf("usage = %+v", usage)
	}
}

func TestDelete(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"success":true}`))
	if err := c.Delete(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	got := rec.only(t)
	assertJSONRequest(t, got, "DELETE", "/api/user",
		`{"userId":"`+testCreds.UserID+`","storageKey":"`+testCreds.StorageKey+`"}`)
	if got.RawQuery != "" {
		t.Errorf("delete put %q in the query string", got.RawQuery)
	}
}

func TestInfo(t *testing.T) {
	cases := map[string]time.Time{
		`1700000000`:             time.Unix(1700000000, 0),
		`1700000000.5`:           time.Unix(1700000000, 5e8),
		`"2023-11-14T22:13:20Z"`: time.Unix(1700000000, 0),
		`null`:                   {},
	}
	for serverTime, want := range cases {
		c, rec := newTestClient(t, respond(200, `{"version":"1.2.0","maxBackupBytes":5242880,"userQuotaBytes":52428800,"historyDepth":10,"registration":"invite","signatureRequired":true,"limits":{"perMinute":30},"serverTime":`+serverTime+`}`))
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatalf("serverTime %s: %v", serverTime, err)
		}
		if got := rec.only(t); got.Method != "GET" || got.Path != "/api/info" {
			t.Errorf("request = %s %s", got.Method, got.Path)
		}
		if info.Version != "1.2.0" || info.MaxBackupBytes != 5<<20 || info.UserQuotaBytes != 50<<20 ||
			info.HistoryDepth != 10 || info.Registration != RegistrationInvite || !info.SignatureRequired ||
			string(info.Limits) != `{"perMinute":30}` {
			t.Errorf("info = %+v", info)
		}
		if !info.ServerTime.Equal(want) {
			t.Errorf("serverTime %s gave %v, want %v", serverTime, info.ServerTime, want)
		}
	}
}

func TestInfoRejectsUnreadableServerTime(t *testing.T) {
	for _, serverTime := range []string{`true`, `"yesterday"`} {
		c, _ := newTestClient(t, respond(200, `{"serverTime":`+serverTime+`}`))
		if _, err := c.Info(context.Background()); err == nil {
			t.Errorf("serverTime %s accepted", serverTime)
		}
	}
}

func TestHealth(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"status":"ok"}`))
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.only(t); got.Method != "GET" || got.Path != "/health" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}

	c, _ = newTestClient(t, respond(200, `{"status":"starting"}`))
	if err := c.Health(context.Background()); err == nil {
		t.Error("a status other than ok was taken as healthy")
	}

	c, _ = newTestClient(t, respond(503, `{"error":"database unreachable"}`))
	if err := c.Health(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("503 gave %v, want ErrUnavailable", err)
	}
}
