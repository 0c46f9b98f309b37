package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// These tests run the client against the real server (servertest), where
// the other client tests use a scripted httptest server.

const password = "correct horse battery staple"

// unlimited turns the rate limits off, so that only the tests about them
// meet them; servertest's clock stands still, so no bucket would refill.
func unlimited(c *config.Config) {
	c.IPBurst = 0
	c.RegisterPerHour = 0
	c.NewUsersPerIPPerDay = 0
	c.SavesPerHour = 0
	c.SavesPerDay = 0
	c.FailedLookupBurst = 0
}

func startServer(t *testing.T, configure ...func(*config.Config)) *servertest.Server {
	t.Helper()
	return servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		unlimited(c)
		for _, f := range configure {
			f(c)
		}
	}))
}

func newAccount(t *testing.T, c *client.Client, username, password string) *client.Account {
	t.Helper()
	account, err := client.NewAccount(c, username, password)
	if err != nil {
		t.Fatal(err)
	}
	return account
}

// wantAPIError checks that err is the server's refusal with status, and
// that errors.Is matches it to sentinel.
func wantAPIError(t *testing.T, err error, status int, sentinel error) *client.APIError {
	t.Helper()
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != status {
		t.Fatalf("got %v, want a %d from the server", err, status)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
	}
	if apiErr.Message == "" {
		t.Errorf("%d without the server's sentence", status)
	}
	return apiErr
}

func TestAgainstTheServer(t *testing.T) {
	s := startServer(t)
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()

	if err := c.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Registration != client.RegistrationOpen || info.SignatureRequired ||
		info.MaxBackupBytes != s.Config.MaxBackupBytes || info.HistoryDepth != s.Config.HistoryDepth || info.ServerTime.IsZero() {
		t.Errorf("info = %+v", info)
	}

	// A name whose lower case needs JavaScript's rules (see lowerJS): any
	// other spelling of it in capitals reaches the same account.
	account := newAccount(t, c, "Erin-ΟΔΥΣΣΕΥΣ", password)
	if _, err := account.RestoreDocument(ctx); err != nil {
		wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)
	} else {
		t.Fatal("restored a backup that was never saved")
	}
	if err := account.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, account.Register(ctx, ""), http.StatusConflict, client.ErrAlreadyRegistered)

	docs := [][]byte{
		[]byte(`{"workouts":[{"day":"2025-06-01","exercise":"push-ups","reps":[20,18,15]}],"streak":1}`),
		[]byte("{\n  \"streak\": 2,\n  \"note\": \"Grüße 💪\"\n}\n"),
	}
	for i, doc := range docs {
		saved, err := account.SaveDocument(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if saved.Version != int64(i+1) || saved.UpdatedAt.IsZero() {
			t.Errorf("save %d = %+v", i+1, saved)
		}
	}

	sameAccount := newAccount(t, c, "erin-οδυσσευς", password)
	latest, err := sameAccount.RestoreDocument(ctx)
	if err != nil || !bytes.Equal(latest, docs[1]) {
		t.Fatalf("restore = %q, %v; want %q", latest, err, docs[1])
	}
	first, err := account.RestoreVersion(ctx, 1)
	if err != nil || !bytes.Equal(first, docs[0]) {
		t.Fatalf("restore version 1 = %q, %v; want %q", first, err, docs[0])
	}
	_, err = account.RestoreVersion(ctx, 3)
	wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)

	versions, err := account.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Version != 2 || versions[1].Version != 1 || versions[0].Size <= int64(len(docs[1])) {
		t.Errorf("versions = %+v", versions)
	}

	usage, err := account.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if usage.Versions != 2 || usage.BytesUsed <= 0 || usage.QuotaBytes != s.Config.UserQuotaBytes {
		t.Errorf("usage = %+v", usage)
	}

	// The wrong password finds nothing, and the server tells the owner.
	_, err = newAccount(t, c, "Erin-ΟΔΥΣΣΕΥΣ", "not the password").RestoreDocument(ctx)
	wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)
	waitForActivity(t, account, client.ActivitySaved, client.ActivityRestored, client.ActivityFailedAttempt)

	if err := account.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = account.RestoreDocument(ctx)
	wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)
	_, err = account.Versions(ctx)
	wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)
	wantAPIError(t, account.Delete(ctx), http.StatusNotFound, client.ErrNotFound)
}

// The server records access in batches about once a second.
func waitForActivity(t *testing.T, account *client.Account, want ...client.ActivityType) {
	t.Helper()
	var seen []client.ActivityType
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		events, err := account.Activity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, e := range events {
			if e.Count < 1 || e.At.IsZero() {
				t.Errorf("activity event %+v", e)
			}
			seen = append(seen, e.Type)
		}
		if !slices.ContainsFunc(want, func(w client.ActivityType) bool { return !slices.Contains(seen, w) }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("activity lists %v, want %v among them", seen, want)
		}
	}
}

func TestConditionalRequestsAgainstTheServer(t *testing.T) {
	s := startServer(t)
	c := &client.Client{BaseURL: s.URL}
	ctx := context.Background()
	id, err := client.Derive("frank", password)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, id.Credentials.UserID, ""); err != nil {
		t.Fatal(err)
	}
	sealed, err := client.Seal(id.EncryptionKey, []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := c.Save(ctx, id.Credentials, sealed, client.SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}

	backup, err := c.Get(ctx, id.Credentials, client.GetOptions{IfNoneMatch: saved.Version})
	if err != nil || !backup.NotModified {
		t.Errorf("get with the current version = %+v, %v; want not modified", backup, err)
	}
	_, err = c.Save(ctx, id.Credentials, sealed, client.SaveOptions{IfMatch: saved.Version + 4})
	if apiErr := wantAPIError(t, err, http.StatusPreconditionFailed, client.ErrStale); apiErr.CurrentVersion != saved.Version {
		t.Errorf("412 reports version %d, want %d", apiErr.CurrentVersion, saved.Version)
	}
	if _, err := c.Save(ctx, id.Credentials, sealed, client.SaveOptions{IfMatch: saved.Version}); err != nil {
		t.Errorf("save with the current version: %v", err)
	}
}

func TestTooLargeAgainstTheServer(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxBackupBytes = 4 << 10 })
	account := newAccount(t, &client.Client{BaseURL: s.URL}, "gina", password)
	ctx := context.Background()
	if err := account.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	big := []byte(`{"pad":"` + strings.Repeat("x", 4<<10) + `"}`)
	before := s.Snapshot()
	_, err := account.SaveDocument(ctx, big)
	wantAPIError(t, err, http.StatusRequestEntityTooLarge, client.ErrTooLarge)
	s.Unchanged(before)
}

func TestRateLimitedAgainstTheServer(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.FailedLookupBurst = 3
		c.FailedLookupRefill = 30 * time.Second
	})
	guesser := newAccount(t, &client.Client{BaseURL: s.URL}, "hana", "a guess")
	ctx := context.Background()
	var err error
	for range 10 {
		if _, err = guesser.RestoreDocument(ctx); errors.Is(err, client.ErrRateLimited) {
			break
		}
		wantAPIError(t, err, http.StatusNotFound, client.ErrNotFound)
	}
	apiErr := wantAPIError(t, err, http.StatusTooManyRequests, client.ErrRateLimited)
	// The server's clock stands still, so the wait is exactly one refill.
	if apiErr.RetryAfter != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s", apiErr.RetryAfter)
	}
	if !strings.Contains(err.Error(), "retry after 30s") {
		t.Errorf("message %q does not say how long to wait", err)
	}
}

const secret = "a signing secret of the operator"

func TestSignedRequestsAgainstTheServer(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.HMACSecret = []byte(secret) })
	ctx := context.Background()

	info, err := (&client.Client{BaseURL: s.URL}).Info(ctx)
	if err != nil || !info.SignatureRequired {
		t.Fatalf("info = %+v, %v; want signatureRequired", info, err)
	}

	for name, c := range map[string]*client.Client{
		"no secret":    {BaseURL: s.URL},
		"wrong secret": {BaseURL: s.URL, Secret: []byte("not the operator's secret")},
	} {
		err := newAccount(t, c, "ivan", password).Register(ctx, "")
		if apiErr := wantAPIError(t, err, http.StatusUnauthorized, client.ErrUnauthorized); apiErr.RetryAfter != 0 {
			t.Errorf("%s: %+v", name, apiErr)
		}
	}

	c := &client.Client{BaseURL: s.URL, Secret: []byte(secret)}
	account := newAccount(t, c, "ivan", password)
	if err := account.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"signed":true}`)
	if _, err := account.SaveDocument(ctx, doc); err != nil {
		t.Fatal(err)
	}

	// Two identical requests in the same second would carry the same
	// signature, which the server refuses as a replay; the client gives
	// the repeat the next second.
	for i := range 2 {
		got, err := account.RestoreDocument(ctx)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("restore %d = %q, %v", i+1, got, err)
		}
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := account.Versions(ctx); err != nil {
				t.Errorf("concurrent identical request: %v", err)
			}
		})
	}
	wg.Wait()
	wantAPIError(t, account.Register(ctx, ""), http.StatusConflict, client.ErrAlreadyRegistered)
}

// The guard above matters: replaying a signed request verbatim is refused.
func TestServerRefusesAReplayedSignature(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.HMACSecret = []byte(secret) })
	timestamp := s.Clock.Now().Unix()
	body := []byte(`{"userId":"` + client.UserID("jay") + `"}`)
	send := func() int {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/api/register", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(client.HeaderTimestamp, strconv.FormatInt(timestamp, 10))
		req.Header.Set(client.HeaderSignature, client.Sign([]byte(secret), timestamp, http.MethodPost, "/api/register", body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := send(); status != http.StatusOK {
		t.Fatalf("first request: %d", status)
	}
	if status := send(); status != http.StatusUnauthorized {
		t.Fatalf("replayed request: %d, want 401", status)
	}
}

// Each run of a command is a new Client with no memory of the last run's
// signatures: two runs in the same second send identical requests.
func TestSeparateClientsRepeatingARequestAgainstTheServer(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.HMACSecret = []byte(secret) })
	ctx := context.Background()
	id, err := client.Derive("lena", password)
	if err != nil {
		t.Fatal(err)
	}
	run := func() *client.Account {
		c := &client.Client{BaseURL: s.URL, Secret: []byte(secret), Now: s.Clock.Now}
		return client.NewAccountWithIdentity(c, id)
	}
	if err := run().Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := run().SaveDocument(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := run().Versions(ctx); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
}

func TestClockSkewCorrectedAgainstTheServer(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.HMACSecret = []byte(secret) })
	c := &client.Client{
		BaseURL: s.URL,
		Secret:  []byte(secret),
		Now:     func() time.Time { return time.Now().Add(-time.Hour) },
	}
	if err := newAccount(t, c, "kim", password).Register(context.Background(), ""); err != nil {
		t.Fatalf("a clock an hour slow was not corrected: %v", err)
	}
}
