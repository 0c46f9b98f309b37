package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

var (
	testSecret = []byte("operator secret")
	localNow   = time.Unix(1_700_000_000, 0)
)

func signingClient(t *testing.T, handler http.HandlerFunc) (*Client, *recorder) {
	t.Helper()
	c, rec := newTestClient(t, handler)
	c.Secret = testSecret
	c.Now = func() time.Time { return localNow }
	return c, rec
}

// verify recomputes the signature from what the server actually received.
func verify(t *testing.T, got request, wantTimestamp int64) {
	t.Helper()
	timestamp, err := strconv.ParseInt(got.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		t.Fatalf("%s %s: X-Timestamp %q: %v", got.Method, got.Path, got.Header.Get(HeaderTimestamp), err)
	}
	if timestamp != wantTimestamp {
		t.Errorf("%s %s: X-Timestamp = %d, want %d", got.Method, got.Path, timestamp, wantTimestamp)
	}
	want := Sign(testSecret, timestamp, got.Method, got.RequestURI, []byte(got.Body))
	if sig := got.Header.Get(HeaderSignature); sig != want {
		t.Errorf("%s %s: X-Signature = %s, want %s", got.Method, got.RequestURI, sig, want)
	}
}

func TestProtectedRequestsAreSigned(t *testing.T) {
	c, rec := signingClient(t, respond(200, `{}`))
	ctx := context.Background()
	calls := []func() error{
		func() error { return c.Register(ctx, testCreds.UserID, "") },
		func() error { _, err := c.Save(ctx, testCreds, "d", SaveOptions{}); return err },
		func() error { _, err := c.Get(ctx, testCreds, GetOptions{Version: 2}); return err },
		func() error { _, err := c.Versions(ctx, testCreds); return err },
		func() error { _, err := c.Activity(ctx, testCreds); return err },
		func() error { _, err := c.Usage(ctx, testCreds); return err },
		func() error { return c.Delete(ctx, testCreds) },
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	seen := rec.seen()
	if len(seen) != len(calls) {
		t.Fatalf("server saw %d requests, want %d", len(seen), len(calls))
	}
	for _, got := range seen {
		verify(t, got, localNow.Unix())
	}
}

func TestPublicRequestsAreNotSigned(t *testing.T) {
	c, rec := signingClient(t, respond(200, `{"status":"ok"}`))
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, got := range rec.seen() {
		if got.Header.Get(HeaderSignature) != "" || got.Header.Get(HeaderTimestamp) != "" {
			t.Errorf("%s %s was signed", got.Method, got.Path)
		}
	}
}

func TestNoSecretNoSignature(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"versions":[]}`))
	if _, err := c.Versions(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	if got := rec.only(t); got.Header.Get(HeaderSignature) != "" || got.Header.Get(HeaderTimestamp) != "" {
		t.Error("request signed without a secret")
	}
}

// skewedServer refuses timestamps more than 300 s from its clock, as the
// real server does, and answers with its time.
func skewedServer(serverNow int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		timestamp, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
		if d := timestamp - serverNow; d > 300 || d < -300 {
			w.Header().Set(HeaderServerTime, strconv.FormatInt(serverNow, 10))
			respond(401, `{"error":"timestamp out of range"}`)(w, r)
			return
		}
		respond(200, `{"versions":[]}`)(w, r)
	}
}

func TestClockSkewIsCorrectedWithOneRetry(t *testing.T) {
	serverNow := localNow.Unix() + 3600
	c, rec := signingClient(t, skewedServer(serverNow))
	if _, err := c.Versions(context.Background(), testCreds); err != nil {
		t.Fatalf("skewed request not recovered: %v", err)
	}
	seen := rec.seen()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want the refused one and one retry", len(seen))
	}
	verify(t, seen[0], localNow.Unix())
	verify(t, seen[1], serverNow)

	// The correction sticks: the next request is right the first time.
	if _, err := c.Versions(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	if seen = rec.seen(); len(seen) != 3 {
		t.Fatalf("server saw %d requests after the correction, want 3", len(seen))
	}
	verify(t, seen[2], serverNow)
}

func TestSkewRetryHappensOnlyOnce(t *testing.T) {
	c, rec := signingClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderServerTime, strconv.FormatInt(localNow.Unix()+7200, 10))
		respond(401, `{"error":"timestamp out of range"}`)(w, r)
	})
	_, err := c.Versions(context.Background(), testCreds)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if n := len(rec.seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestUnauthorizedWithoutServerTimeIsNotRetried(t *testing.T) {
	for _, serverTime := range []string{"", "noon"} {
		c, rec := signingClient(t, respond(401, `{"error":"bad signature"}`, HeaderServerTime, serverTime))
		_, err := c.Versions(context.Background(), testCreds)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want ErrUnauthorized", err)
		}
		if n := len(rec.seen()); n != 1 {
			t.Errorf("X-Server-Time %q: server saw %d requests, want 1", serverTime, n)
		}
	}
}

func TestUnsignedClientDoesNotRetryUnauthorized(t *testing.T) {
	c, rec := newTestClient(t, skewedServer(localNow.Unix()+3600))
	if _, err := c.Versions(context.Background(), testCreds); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if n := len(rec.seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestDefaultClockIsUsed(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"versions":[]}`))
	c.Secret = testSecret
	before := time.Now().Unix()
	if _, err := c.Versions(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	timestamp, _ := strconv.ParseInt(rec.only(t).Header.Get(HeaderTimestamp), 10, 64)
	if timestamp < before || timestamp > time.Now().Unix() {
		t.Errorf("X-Timestamp %d is not the current time", timestamp)
	}
}
