package routes_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// proxyHeader is the trusted proxy header the abuse tests configure so that
// one loopback client can present many addresses.
const proxyHeader = "Fly-Client-IP"

// behindProxy trusts proxyHeader, as an operator on Fly.io would.
func behindProxy(c *config.Config) { c.TrustedProxyHeader = proxyHeader }

// from returns r as sent through the trusted proxy by client address ip.
func from(ip string, r servertest.Request) servertest.Request {
	return withHeader(r, proxyHeader, ip)
}

func withHeader(r servertest.Request, name, value string) servertest.Request {
	h := maps.Clone(r.Header)
	if h == nil {
		h = map[string]string{}
	}
	h[name] = value
	r.Header = h
	return r
}

// bodyBytes is exactly what servertest.Do sends for body.
func bodyBytes(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// signature computes X-Signature from the wire contract (docs/API.md), on
// its own rather than through package client, so that a shared mistake
// cannot make both sides agree.
func signature(secret string, ts int64, method, target string, body []byte) string {
	bodyHash := sha256.Sum256(body)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "\n" + method + "\n" + target + "\n" + hex.EncodeToString(bodyHash[:])))
	return hex.EncodeToString(m.Sum(nil))
}

// signed returns r signed with secret at Unix time ts; the body is fixed to
// the bytes that were signed.
func signed(t *testing.T, secret string, ts int64, r servertest.Request) servertest.Request {
	t.Helper()
	body := bodyBytes(t, r.Body)
	if body != nil {
		r.Body = body
	}
	r = withHeader(r, "X-Timestamp", strconv.FormatInt(ts, 10))
	return withHeader(r, "X-Signature", signature(secret, ts, r.Method, r.Path, body))
}

// expectTooMany checks a refusal by a limit: 429, the JSON error shape and
// Retry-After in whole seconds, equal to retryAfter.
func expectTooMany(t *testing.T, r *servertest.Response, retryAfter int) {
	t.Helper()
	expectError(t, r, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Fatalf("Retry-After = %q, want %d", got, retryAfter)
	}
}

// expectStatus checks the status alone.
func expectStatus(t *testing.T, r *servertest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %.200s)", r.Status, status, r.Body)
	}
}
