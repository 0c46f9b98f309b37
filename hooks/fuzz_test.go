package hooks

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/store"
)

// The sentences ParseSignatureHeaders may answer: fixed, never the input.
var signatureProblems = []string{
	"This server requires signed requests (X-Timestamp and X-Signature).",
	"X-Timestamp must be Unix seconds.",
	"X-Signature must be 64 lowercase hex characters.",
}

// FuzzParseSignatureHeaders checks the header syntax against a plain
// restatement of the contract: up to 12 ASCII digits, and exactly 64
// lowercase hex characters.
func FuzzParseSignatureHeaders(f *testing.F) {
	f.Add("1700000000", strings.Repeat("ab", 32))
	f.Add("", "")
	f.Add("-1", strings.Repeat("0", 64))
	f.Add("１７００", strings.Repeat("AB", 32))
	f.Add("999999999999", strings.Repeat("f", 63)+"\x00")
	f.Add("0000000000001", strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, timestamp, signature string) {
		ts, sig, problem := ParseSignatureHeaders(timestamp, signature)
		validTS := timestamp != "" && len(timestamp) <= 12 && strings.Trim(timestamp, "0123456789") == ""
		validSig := len(signature) == 64 && strings.Trim(signature, "0123456789abcdef") == ""
		if (problem == "") != (validTS && validSig) {
			t.Fatalf("(%q, %q): problem %q, but valid timestamp %v, valid signature %v", timestamp, signature, problem, validTS, validSig)
		}
		if problem != "" {
			if !slices.Contains(signatureProblems, problem) || ts != 0 || sig != nil {
				t.Fatalf("refusal = %d, %x, %q", ts, sig, problem)
			}
			return
		}
		want, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil || ts != want || ts < 0 {
			t.Fatalf("timestamp %q parsed as %d", timestamp, ts)
		}
		if hex.EncodeToString(sig) != signature {
			t.Fatalf("signature %q decoded as %x", signature, sig)
		}
	})
}

var fuzzSecret = []byte("fuzz-signing-secret")

// FuzzSignature runs the whole check (query redaction, body read, signature)
// on requests parsed by net/http from a raw request line, and compares the
// outcome with the client package's independent signer: a request signed as
// the client signs what it sends is accepted once, inside the window, and
// nothing else ever is.
func FuzzSignature(f *testing.F) {
	const now = 1_700_000_000
	q := "?userId=" + strings.Repeat("a", 64) + "&storageKey=" + strings.Repeat("b", 64)
	f.Add("GET", "/api/backup"+q, []byte(nil), int64(0), true, "")
	f.Add("POST", "/api/backup", []byte(`{"userId":"x"}`), int64(-299), true, "")
	f.Add("DELETE", "/api/user", []byte(`{}`), int64(301), true, "")
	f.Add("GET", "/api/backup/versions?a=%41&b=+", []byte(nil), int64(0), false, strings.Repeat("0", 64))
	f.Add("POST", "/api/register", []byte("{}"), int64(0), false, "not hex")
	f.Add("GET", "/api/usage?user%49d=1", []byte(nil), int64(-300), true, "")
	f.Add("GET", "/a%2Fb/%7e?x=%zz", []byte(nil), int64(300), true, "")
	f.Fuzz(func(t *testing.T, method, target string, body []byte, skew int64, signIt bool, signature string) {
		r := parseRequest(method, target, body)
		if r == nil {
			t.Skip("not a request net/http would accept")
		}
		skew %= 1000
		ts := now + skew
		if signIt {
			signature = client.Sign(fuzzSecret, ts, method, target, body)
		}
		r.Header.Set("X-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-Signature", signature)

		nonces := &nonceBook{seen: map[string]bool{}}
		run := func() (reached bool, rec *httptest.ResponseRecorder, err error) {
			req := r.Clone(r.Context())
			req.Body = http.NoBody
			if len(body) > 0 {
				req.Body = readCloser{bytes.NewReader(body)}
			}
			return runChain(req, nonces, now)
		}
		valid := signature == client.Sign(fuzzSecret, ts, method, target, body)
		inWindow := skew >= -300 && skew <= 300

		reached, rec, err := run()
		if reached != (valid && inWindow) {
			t.Fatalf("%s %q skew %d: reached the handler %v, want %v (err %v)", method, target, skew, reached, valid && inWindow, err)
		}
		if !reached {
			if status(err) != http.StatusUnauthorized {
				t.Fatalf("refusal status %d (%v), want 401", status(err), err)
			}
			if (rec.Header().Get("X-Server-Time") != "") != (valid && !inWindow) {
				t.Fatalf("X-Server-Time %q on a refusal with skew %d", rec.Header().Get("X-Server-Time"), skew)
			}
			return
		}
		// The same request again is a replay.
		if again, _, err := run(); again || status(err) != http.StatusUnauthorized {
			t.Fatalf("replay reached the handler %v (err %v)", again, err)
		}
	})
}

// parseRequest reads method and target as a server would, or nil when
// net/http would refuse the request line before any handler runs.
func parseRequest(method, target string, body []byte) *http.Request {
	if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " #\r\n") {
		return nil
	}
	ct := ""
	if len(body) > 0 {
		ct = "Content-Type: application/json\r\n"
	}
	raw := method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + ct +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil || r.Method != method {
		return nil
	}
	// The path is signed in its escaped form, which is what clients send
	// (browsers and net/http escape a path before sending it); a client
	// hand-writing /a"b would sign a form the server never sees.
	if path, _, _ := strings.Cut(target, "?"); r.URL.EscapedPath() != path {
		return nil
	}
	return r
}

// runChain runs the middlewares in their production order, ending in a
// handler that records that it was reached.
func runChain(r *http.Request, nonces *nonceBook, now int64) (bool, *httptest.ResponseRecorder, error) {
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{}
	e.Request, e.Response = r, rec
	h := &hook.Hook[*core.RequestEvent]{}
	h.Bind(RedactQuery())
	if r.ContentLength > 0 {
		h.Bind(ReadBody(BodyLimits{MaxBytes: 1 << 20}))
	}
	h.Bind(Signature(SignatureConfig{
		Secret:   fuzzSecret,
		Window:   300 * time.Second,
		Now:      func() time.Time { return time.Unix(now, 0) },
		UseNonce: nonces.use,
	}))
	reached := false
	err := h.Trigger(e, func(*core.RequestEvent) error { reached = true; return nil })
	return reached, rec, err
}

type nonceBook struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (n *nonceBook) use(_ *core.RequestEvent, nonce string, _ time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[nonce] {
		return store.ErrReplay
	}
	n.seen[nonce] = true
	return nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// status is the status an error answers (0 for none).
func status(err error) int {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	if err != nil {
		return http.StatusInternalServerError
	}
	return 0
}

// FuzzRedactQuery checks that a query string naming userId or storageKey in
// a way the handlers would understand (any letter case, any escaping) never
// stays on the request, where PocketBase's request log would record it, and
// that the handlers still read it unchanged.
func FuzzRedactQuery(f *testing.F) {
	f.Add("userId=ab&storageKey=cd")
	f.Add("USERID=1")
	f.Add("user%49d=1")
	f.Add("%zz&user%49d=1")
	f.Add("storage%4bey=1;x")
	f.Add("a=1&b=2")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse("/api/backup?" + raw)
		if err != nil || u.RawQuery != raw {
			t.Skip("not a raw query url.Parse keeps")
		}
		e := &core.RequestEvent{}
		e.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		e.Request.URL, e.Request.RequestURI = u, u.RequestURI()
		e.Response = httptest.NewRecorder()
		if err := RedactQuery().Func(e); err != nil {
			t.Fatal(err)
		}
		names, _ := url.ParseQuery(raw)
		secret := strings.Contains(strings.ToLower(raw), "userid") || strings.Contains(strings.ToLower(raw), "storagekey")
		for name := range names {
			n := strings.ToLower(name)
			secret = secret || strings.Contains(n, "userid") || strings.Contains(n, "storagekey")
		}
		if secret && (e.Request.URL.RawQuery != "" || strings.Contains(e.Request.RequestURI, "?")) {
			t.Fatalf("query %q names a secret but stayed on the request (%q)", raw, e.Request.RequestURI)
		}
		if RawQuery(e) != raw {
			t.Fatalf("handlers read %q, want %q", RawQuery(e), raw)
		}
	})
}

// FuzzRedactLoggedURL checks that whatever a request carries in its path,
// query or Referer, the URL and Referer left for PocketBase's request log
// hold no run of 32 hex digits in any escaping, while the handlers saw the
// request as it came.
func FuzzRedactLoggedURL(f *testing.F) {
	id := strings.Repeat("0123456789abcdef", 4)
	f.Add("/api/backup/"+id, "")
	f.Add("/api/user/"+strings.ToUpper(id)+"?x=1", "https://app.example/?k="+id)
	f.Add("/x?filter=id='"+id+"'", "")
	f.Add("/%30%31%32%33"+id[4:], "https://app.example/%2530"+id[1:])
	f.Add("/api/backup?userId=1", "/")
	f.Fuzz(func(t *testing.T, target, referer string) {
		r := parseRequest(http.MethodGet, target, nil)
		if r == nil {
			t.Skip("not a request net/http would accept")
		}
		r.Header.Set("Referer", referer)
		e := &core.RequestEvent{}
		e.Request, e.Response = r, httptest.NewRecorder()
		h := &hook.Hook[*core.RequestEvent]{}
		h.Bind(RedactLoggedURL())
		var seen string
		if err := h.Trigger(e, func(e *core.RequestEvent) error {
			seen = e.Request.URL.RequestURI()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if seen != r.RequestURI {
			t.Fatalf("the handler saw %q, the client sent %q", seen, r.RequestURI)
		}
		for what, logged := range map[string]string{"URL": e.Request.URL.RequestURI(), "Referer": e.Request.Referer()} {
			if run := hexRuns.FindString(unescapeAll(logged)); run != "" {
				t.Fatalf("the logged %s %q still holds %q", what, logged, run)
			}
		}
	})
}
