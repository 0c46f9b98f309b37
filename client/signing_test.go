package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

	// The correction sticks: the next request is right the first time. It
	// repeats the retry within the same second, so it takes the next one.
	if _, err := c.Versions(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	if seen = rec.seen(); len(seen) != 3 {
		t.Fatalf("server saw %d requests after the correction, want 3", len(seen))
	}
	verify(t, seen[2], serverNow+1)
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

// A refusal without the server's time may be a replay: another Client
// (another run of the same command) sent the identical request in the same
// second. One retry, in the next second, cures that; a bad secret just
// fails twice.
func TestUnauthorizedWithoutServerTimeIsRetriedOnceInTheNextSecond(t *testing.T) {
	for _, serverTime := range []string{"", "noon"} {
		c, rec := signingClient(t, respond(401, `{"error":"bad signature"}`, HeaderServerTime, serverTime))
		_, err := c.Versions(context.Background(), testCreds)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want ErrUnauthorized", err)
		}
		seen := rec.seen()
		if len(seen) != 2 {
			t.Fatalf("X-Server-Time %q: server saw %d requests, want 2", serverTime, len(seen))
		}
		verify(t, seen[0], localNow.Unix())
		verify(t, seen[1], localNow.Unix()+1)
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

func TestRepeatedRequestsGetDistinctTimestamps(t *testing.T) {
	c, rec := signingClient(t, respond(200, `{"success":true,"versions":[]}`))
	ctx := context.Background()
	for range 3 {
		if err := c.Register(ctx, testCreds.UserID, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Another request, or the same one with another body, may share a second.
	if err := c.Delete(ctx, testCreds); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, strings.Repeat("b", 64), ""); err != nil {
		t.Fatal(err)
	}
	seen := rec.seen()
	want := []int64{0, 1, 2, 0, 0}
	if len(seen) != len(want) {
		t.Fatalf("server saw %d requests, want %d", len(seen), len(want))
	}
	for i, got := range seen {
		verify(t, got, localNow.Unix()+want[i])
	}
}

func TestConcurrentIdenticalRequestsAreNotReplays(t *testing.T) {
	var mu sync.Mutex
	used := map[string]bool{}
	c, _ := signingClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		sig := r.Header.Get(HeaderSignature)
		if used[sig] {
			respond(401, `{"error":"This request was already received."}`)(w, r)
			return
		}
		used[sig] = true
		respond(200, `{"versions":[]}`)(w, r)
	})
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Versions(context.Background(), testCreds)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(used) != n {
		t.Errorf("%d distinct signatures for %d requests", len(used), n)
	}
}

func TestUsedTimestampsAreForgottenOutsideTheWindow(t *testing.T) {
	var ts timestamps
	if got := ts.next(1000, "GET /x"); got != 1000 {
		t.Fatalf("first = %d", got)
	}
	if got := ts.next(1000, "GET /x"); got != 1001 {
		t.Fatalf("repeat = %d", got)
	}
	// Long after, the same second may come round again (after a clock
	// correction) without any memory of it left.
	ts.next(1001+replayMemory+1, "GET /y")
	if len(ts.used) != 1 {
		t.Errorf("%d signatures remembered after the others left the window, want 1", len(ts.used))
	}
	if got := ts.next(1000, "GET /x"); got != 1000 {
		t.Errorf("after the memory expired = %d, want 1000", got)
	}
}

// Several runs in a row (a script's commands) may each have taken the next
// second as well: a refusal that names a replay moves on a few seconds
// more, then gives up; it never hides a wrong secret (above: two tries).
func TestReplayRefusalsMoveOnAFewSeconds(t *testing.T) {
	for _, accepted := range []bool{true, false} {
		var n int
		c, rec := signingClient(t, func(w http.ResponseWriter, r *http.Request) {
			n++
			if accepted && n == 4 {
				respond(200, `{"versions":[]}`)(w, r)
				return
			}
			respond(401, `{"error":"This request was already received."}`)(w, r)
		})
		_, err := c.Versions(context.Background(), testCreds)
		seen := rec.seen()
		if accepted {
			if err != nil || len(seen) != 4 {
				t.Fatalf("accepted on the fourth try: %v after %d requests", err, len(seen))
			}
		} else if !errors.Is(err, ErrUnauthorized) || len(seen) != 2+maxReplayRetries {
			t.Fatalf("always refused: %v after %d requests", err, len(seen))
		}
		for i, r := range seen {
			verify(t, r, localNow.Unix()+int64(i))
		}
	}
}
