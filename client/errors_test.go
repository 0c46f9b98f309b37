package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

var allSentinels = []error{
	ErrUnauthorized, ErrForbidden, ErrNotFound, ErrAlreadyRegistered,
	ErrStale, ErrTooLarge, ErrRateLimited, ErrUnavailable,
}

func TestStatusesMapToSentinels(t *testing.T) {
	cases := []struct {
		status int
		want   error
	}{
		{401, ErrUnauthorized},
		{403, ErrForbidden},
		{404, ErrNotFound},
		{409, ErrAlreadyRegistered},
		{412, ErrStale},
		{413, ErrTooLarge},
		{429, ErrRateLimited},
		{503, ErrUnavailable},
		{400, nil},
		{500, nil},
		{307, nil},
	}
	for _, tc := range cases {
		c, _ := newTestClient(t, respond(tc.status, `{"error":"the server's sentence"}`))
		_, err := c.Get(context.Background(), testCreds, GetOptions{})
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("status %d gave %v, want *APIError", tc.status, err)
		}
		if apiErr.Status != tc.status || apiErr.Message != "the server's sentence" || apiErr.Method != "GET" || apiErr.Path != "/api/backup" {
			t.Errorf("status %d gave %+v", tc.status, apiErr)
		}
		for _, sentinel := range allSentinels {
			if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
				t.Errorf("status %d: errors.Is(err, %v) = %v", tc.status, sentinel, got)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	later := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := map[string]time.Duration{
		"30":          30 * time.Second,
		"0":           0,
		"-5":          0,
		"soon":        0,
		"99999999999": 0,
	}
	for header, want := range cases {
		c, _ := newTestClient(t, respond(429, `{"error":"slow down"}`, "Retry-After", header))
		_, err := c.Versions(context.Background(), testCreds)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.RetryAfter != want {
			t.Errorf("Retry-After %q gave %v, want %v", header, err, want)
		}
	}

	c, _ := newTestClient(t, respond(429, `{"error":"slow down"}`, "Retry-After", later))
	_, err := c.Versions(context.Background(), testCreds)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter < 80*time.Second || apiErr.RetryAfter > 90*time.Second {
		t.Errorf("Retry-After as a date gave %v", err)
	}
	if !strings.Contains(err.Error(), "retry after") {
		t.Errorf("error %q does not say when to retry", err)
	}
}

func TestStaleSaveReportsCurrentVersion(t *testing.T) {
	c, _ := newTestClient(t, respond(412, `{"error":"backup changed"}`, "ETag", `"12"`))
	_, err := c.Save(context.Background(), testCreds, "d", SaveOptions{IfMatch: 11})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrStale) || apiErr.CurrentVersion != 12 {
		t.Fatalf("412 gave %v", err)
	}
}

func TestParseETag(t *testing.T) {
	cases := map[string]int64{`"4"`: 4, `W/"5"`: 5, `4`: 0, `"4`: 0, `"x"`: 0, ``: 0}
	for value, want := range cases {
		got, ok := parseETag(value)
		if got != want || ok != (want != 0) {
			t.Errorf("parseETag(%q) = %d, %v", value, got, ok)
		}
	}
}

func TestErrorMessageIsDefused(t *testing.T) {
	c, _ := newTestClient(t, respond(400, `{"error":"bad\u001b[2J request\n`+strings.Repeat("x", 500)+`"}`))
	_, err := c.Usage(context.Background(), testCreds)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatal(err)
	}
	if strings.ContainsAny(apiErr.Message, "\x1b\n") || len([]rune(apiErr.Message)) > 201 {
		t.Errorf("message not defused: %q", apiErr.Message)
	}
	if !strings.HasPrefix(apiErr.Message, "bad[2J request") {
		t.Errorf("message = %q", apiErr.Message)
	}
}

func TestNonJSONErrorBodyStillGivesStatus(t *testing.T) {
	c, _ := newTestClient(t, respond(502, `<html>bad gateway</html>`))
	_, err := c.Usage(context.Background(), testCreds)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Message != "" {
		t.Fatalf("502 gave %v", err)
	}
	if !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("error %q lacks the status", err)
	}
}

// Errors end up in logs and on terminals; the storage key must not.
func TestErrorsNeverCarryTheStorageKey(t *testing.T) {
	var errs []error

	c, _ := newTestClient(t, respond(404, `{"error":"no such backup"}`))
	_, err := c.Get(context.Background(), testCreds, GetOptions{})
	errs = append(errs, err)

	unreachable := &Client{BaseURL: "http://" + closedAddress(t)}
	_, err = unreachable.Get(context.Background(), testCreds, GetOptions{})
	errs = append(errs, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Versions(ctx, testCreds)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request gave %v, want context.Canceled", err)
	}
	errs = append(errs, err)

	c, _ = newTestClient(t, respond(200, `{"data":`))
	_, err = c.Get(context.Background(), testCreds, GetOptions{})
	errs = append(errs, err)

	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		if strings.Contains(err.Error(), testCreds.StorageKey[:16]) {
			t.Errorf("error leaks the storage key: %v", err)
		}
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, base := range []string{"", "127.0.0.1:8090", "ftp://host", "http://", "http://[::1"} {
		c := &Client{BaseURL: base}
		if err := c.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Errorf("base URL %q gave %v", base, err)
		}
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	c, rec := newTestClient(t, respond(200, `{"status":"ok"}`))
	c.BaseURL += "/backup/"
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.only(t).Path; got != "/backup/health" {
		t.Errorf("path = %s, want /backup/health", got)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	elsewhere, rec := newTestClient(t, respond(200, `{"status":"ok"}`))
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.BaseURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	_, err := c.Versions(context.Background(), testCreds)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect {
		t.Errorf("redirect gave %v, want an *APIError with status 307", err)
	}
	if n := len(rec.seen()); n != 0 {
		t.Errorf("the redirect target received %d requests carrying the storage key", n)
	}
}

func TestOversizedResponseIsRefused(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"data":"`))
		w.Write(make([]byte, maxResponseBytes))
	})
	if _, err := c.Get(context.Background(), testCreds, GetOptions{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized response gave %v", err)
	}
}

func TestCustomHTTPClientIsUsed(t *testing.T) {
	c, _ := newTestClient(t, respond(200, `{"status":"ok"}`))
	used := false
	c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	if err := c.Health(context.Background()); err != nil || !used {
		t.Errorf("Health = %v, custom client used = %v", err, used)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
