package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxResponseBytes bounds what a server can make the client buffer: a
// backup is at most 5 MiB, and JSON escaping adds little to that.
const maxResponseBytes = 32 << 20

// defaultHTTPClient refuses redirects because a redirected request would
// carry the storage key in its query string to wherever it points.
var defaultHTTPClient = &http.Client{
	Timeout: time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Client calls the backup server's HTTP API. It is safe for concurrent use;
// set its fields before the first request.
type Client struct {
	// BaseURL is the server's root, such as "http://127.0.0.1:8090".
	BaseURL string

	// HTTPClient defaults to one with a one-minute timeout that does not
	// follow redirects.
	HTTPClient *http.Client

	// Secret, when set, signs every request to a protected endpoint.
	Secret []byte

	// Now defaults to time.Now; the timestamps it gives are corrected by
	// whatever offset the server reported.
	Now func() time.Time

	// clockOffset is server time minus local time in seconds, learned from
	// a 401 that carried X-Server-Time.
	clockOffset atomic.Int64

	timestamps timestamps
}

// call describes one API request.
type call struct {
	method    string
	path      string
	query     url.Values
	body      any
	header    http.Header
	unsigned  bool // for the public endpoints, which the server never checks
	wantCodes []int
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs a call, signing it when the client has a secret. Statuses
// other than 2xx and those in wantCodes come back as *APIError.
func (c *Client) send(ctx context.Context, r call) (*response, error) {
	target, err := c.endpoint(r.path, r.query)
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.body != nil {
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
	}
	resp, err := c.attempt(ctx, r, target, body)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusUnauthorized && c.signs(r) {
		// A refused signature gets one more try, freshly signed, for the
		// two refusals a client can cure: its clock is off (the server
		// then sends its own time), or another Client, such as the same
		// command run twice in one second, sent this very request in this
		// second and the server took the copy for a replay (the retry
		// takes the next second). A wrong secret is refused twice; the
		// server did nothing either time.
		if serverNow, err := strconv.ParseInt(resp.header.Get(HeaderServerTime), 10, 64); err == nil {
			c.clockOffset.Store(serverNow - c.now().Unix())
		}
		if resp, err = c.attempt(ctx, r, target, body); err != nil {
			return nil, err
		}
		// Several runs in one second (a script's commands in a row) can
		// each have used the next second too: a refusal that names a
		// replay, never a wrong secret, moves on a few seconds more.
		for range maxReplayRetries {
			if resp.status != http.StatusUnauthorized || errorMessage(resp.body) != replayRefusal {
				break
			}
			if resp, err = c.attempt(ctx, r, target, body); err != nil {
				return nil, err
			}
		}
	}
	if resp.status/100 == 2 || slices.Contains(r.wantCodes, resp.status) {
		return resp, nil
	}
	return nil, newAPIError(r.method, r.path, resp)
}

func (c *Client) attempt(ctx context.Context, r call, target *url.URL, body []byte) (*response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target.String(), reader)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, withoutURL(err))
	}
	for name, values := range r.header {
		for _, value := range values {
			req.Header.Add(name, value)
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.signs(r) {
		pathAndQuery, bodyHash := req.URL.RequestURI(), BodyHash(body)
		timestamp := c.timestamps.next(c.now().Unix()+c.clockOffset.Load(), r.method+" "+pathAndQuery+" "+bodyHash)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
		req.Header.Set(HeaderSignature, SignBodyHash(c.Secret, timestamp, r.method, pathAndQuery, bodyHash))
	}

	httpClient := c.HTTPClient
	if httpClient == nil {
		httpClient = defaultHTTPClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, withoutURL(err))
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read response: %w", r.method, r.path, withoutURL(err))
	}
	if len(respBody) > maxResponseBytes {
		return nil, fmt.Errorf("client: %s %s: response larger than %d bytes", r.method, r.path, maxResponseBytes)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: respBody}, nil
}

// replayRefusal is the server's answer to a signature it has seen already.
const replayRefusal = "This request was already received."

// maxReplayRetries bounds the extra tries after a second replay refusal.
const maxReplayRetries = 3

// replayMemory is how long a used timestamp is remembered, in seconds:
// longer than the server's window (300 s by default) either way.
const replayMemory = 900

// timestamps hands out signature timestamps. The signature covers no
// nonce, so the server refuses a second identical request (same method,
// target and body) signed in the same second as a replay; yet restoring
// twice in a row is legitimate. A repeat therefore gets the next unused
// second, as the web app's module does: a burst drifts a few seconds ahead,
// well inside the server's window.
type timestamps struct {
	mu       sync.Mutex
	used     map[signedRequest]bool
	prunedAt int64
}

type signedRequest struct {
	second  int64
	request string // method, target and body hash
}

// next returns the first second from now on that request has not been
// signed with, and records it.
func (t *timestamps) next(now int64, request string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.used == nil {
		t.used = map[signedRequest]bool{}
	}
	if now != t.prunedAt {
		// Both ways: a clock correction can move now backwards.
		for s := range t.used {
			if s.second < now-replayMemory || s.second > now+replayMemory {
				delete(t.used, s)
			}
		}
		t.prunedAt = now
	}
	second := now
	for t.used[signedRequest{second, request}] {
		second++
	}
	t.used[signedRequest{second, request}] = true
	return second
}

func (c *Client) endpoint(path string, query url.Values) (*url.URL, error) {
	base, err := url.Parse(c.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		// The URL stays out of the message: it may hold user:password.
		return nil, errors.New("client: base URL is not an http(s)://host[:port] URL")
	}
	target := base.JoinPath(path)
	// JoinPath keeps a host-only base's empty path relative.
	if !strings.HasPrefix(target.Path, "/") {
		target.Path = "/" + target.Path
	}
	target.RawQuery = query.Encode()
	target.Fragment = ""
	return target, nil
}

func (c *Client) signs(r call) bool { return len(c.Secret) > 0 && !r.unsigned }

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// withoutURL drops the request URL that net/http puts into its errors: the
// query string holds the storage key.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

func decode(r call, resp *response, out any) error {
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// etag formats a version the way the server writes it in ETag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func parseETag(value string) (int64, bool) {
	value = strings.TrimPrefix(value, "W/")
	unquoted, ok := strings.CutPrefix(value, `"`)
	if !ok {
		return 0, false
	}
	unquoted, ok = strings.CutSuffix(unquoted, `"`)
	if !ok {
		return 0, false
	}
	version, err := strconv.ParseInt(unquoted, 10, 64)
	return version, err == nil
}
