package routes_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

// badCase is one request the server must refuse (or, for the cases that sit
// on a boundary, accept) through the whole stack: transport, middlewares,
// decoding and validation. Refusals must leave the stored data as it was.
type badCase struct {
	name   string
	method string // default POST
	path   string // default /api/backup
	body   string
	header map[string]string // Content-Type defaults to application/json; "" unsets it
	raw    string            // when set, written as is on a TCP connection instead
	// halfClose ends the client's side after raw, so that a Content-Length
	// promising more than was sent meets EOF instead of the read timeout.
	halfClose bool
	status    int
	allow     string // for a 405: the methods Allow must list
	stored    string // for a 200: what a restore must now return
}

// The fixture every case runs against: one user with one backup.
var (
	bUser, bKey = id("bad-input-user"), id("bad-input-key")
	bData       = envelope(48, 'g')
	ct16        = base64.StdEncoding.EncodeToString(make([]byte, 16))
	nonce12     = base64.StdEncoding.EncodeToString(make([]byte, 12))
)

// js, obj and mem write JSON by hand, so that cases can hold what a
// marshaller would never write.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func obj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

func mem(name, value string) string { return js(name) + ":" + value }

// Members of a valid save; cases swap one out.
var (
	mUser = mem("userId", js(bUser))
	mKey  = mem("storageKey", js(bKey))
	mData = mem("data", js(bData))
)

func saveWith(data string) string { return obj(mUser, mKey, mem("data", js(data))) }

func withKey(key string) string { return obj(mUser, mem("storageKey", js(key)), mData) }

func withUser(user string) string { return obj(mem("userId", js(user)), mKey, mData) }

// env is obj, for an envelope inside data.
func env(members ...string) string { return obj(members...) }

func readPath(endpoint, extra string) string {
	return endpoint + "?userId=" + bUser + "&storageKey=" + bKey + extra
}

// envelopeOfLen is a valid envelope exactly n bytes long, padded in appId.
func envelopeOfLen(n int) string {
	head := `{"encrypted":"` + base64.StdEncoding.EncodeToString(make([]byte, 48)) + `","nonce":"` + nonce12 + `","appId":"`
	return head + strings.Repeat("p", n-len(head)-2) + `"}`
}

// bodyOfLen is a valid save of data, padded with JSON whitespace to n bytes.
func bodyOfLen(data string, n int) string {
	b := obj(mUser, mKey, mem("data", js(data)))
	return b[:len(b)-1] + strings.Repeat(" ", n-len(b)) + "}"
}

func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

// rawRequest builds an HTTP/1.1 request by hand, headers in order.
func rawRequest(method, path string, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, path)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func badInputCases(maxData int64) []badCase {
	maxBody := int(maxData) + 64<<10
	dataCapMinus1, dataCap := envelopeOfLen(int(maxData)-1), envelopeOfLen(int(maxData))
	// Bodies around the body cap carry data under the data cap.
	inBody := envelopeOfLen(int(maxData) - 1024)
	nonceOf := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	valid := saveWith(bData)
	text, form, multipart, xml := "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"
	registerBody, deleteBody := obj(mUser), obj(mUser, mKey)

	return []badCase{
		// Malformed JSON.
		{name: "empty body", body: "", status: 400},
		{name: "whitespace only", body: " \r\n\t ", status: 400},
		{name: "truncated", body: valid[:len(valid)/2], status: 400},
		{name: "single quotes", body: strings.ReplaceAll(valid, `"`, `'`), status: 400},
		{name: "unquoted names", body: `{userId:` + js(bUser) + `,storageKey:` + js(bKey) + `,data:` + js(bData) + `}`, status: 400},
		{name: "comment", body: "// note\n" + valid, status: 400},
		{name: "byte order mark", body: "\ufeff" + valid, status: 400},
		{name: "invalid UTF-8 in a string", body: saveWith(ct16[:len(ct16)-4] + "\xff\xfe=="), status: 400},
		{name: "raw control character in a string", body: `{"userId":"` + bUser + "\x01" + `"}`, status: 400},
		{name: "null", body: "null", status: 400},
		{name: "array", body: "[" + valid + "]", status: 400},
		{name: "bare string", body: js(bData), status: 400},
		{name: "number", body: "42", status: 400},
		{name: "trailing garbage", body: valid + "x", status: 400},
		{name: "trailing second object", body: valid + "{}", status: 400},
		{name: "trailing comma", body: valid[:len(valid)-1] + ",}", status: 400},
		{name: "deeply nested member", body: obj(mUser, mKey, mem("data", nested(100_000))), status: 400},
		{name: "deeply nested objects", body: strings.Repeat(`{"a":`, 50_000) + "1" + strings.Repeat("}", 50_000), status: 400},
		{name: "deeply nested register", path: "/api/register", body: obj(mem("userId", nested(2000))), status: 400},
		{name: "deeply nested envelope", body: saveWith(`{"encrypted":` + nested(50_000) + `}`), status: 400},

		// Members in other letter case, duplicated, extra, missing, of wrong types.
		{name: "UserId", body: obj(mem("UserId", js(bUser)), mKey, mData), status: 400},
		{name: "STORAGEKEY", body: obj(mUser, mem("STORAGEKEY", js(bKey)), mData), status: 400},
		{name: "Data", body: obj(mUser, mKey, mem("Data", js(bData))), status: 400},
		{name: "storagekey on delete", method: "DELETE", path: "/api/user", body: obj(mUser, mem("storagekey", js(bKey))), status: 400},
		{name: "duplicated storageKey", body: obj(mUser, mKey, mKey, mData), status: 400},
		{name: "duplicated data", body: obj(mUser, mKey, mData, mem("data", js(envelope(48, 'h')))), status: 400},
		{name: "duplicated userId on delete", method: "DELETE", path: "/api/user", body: obj(mUser, mUser, mKey), status: 400},
		{name: "duplicated member, escaped name", body: obj(mUser, mKey, mData, `"d\u0061ta":`+js(bData)), status: 400},
		{name: "extra member", body: obj(mUser, mKey, mData, mem("version", "2")), status: 400},
		{name: "extra member on delete", method: "DELETE", path: "/api/user", body: obj(mUser, mKey, mData), status: 400},
		{name: "missing data", body: obj(mUser, mKey), status: 400},
		{name: "missing storageKey", body: obj(mUser, mData), status: 400},
		{name: "missing userId", body: obj(mKey, mData), status: 400},
		{name: "data a number", body: obj(mUser, mKey, mem("data", "12")), status: 400},
		{name: "data an object", body: obj(mUser, mKey, mem("data", bData)), status: 400},
		{name: "data null", body: obj(mUser, mKey, mem("data", "null")), status: 400},
		{name: "data an array", body: obj(mUser, mKey, mem("data", "["+js(bData)+"]")), status: 400},
		{name: "userId an array", body: obj(mem("userId", "["+js(bUser)+"]"), mKey, mData), status: 400},
		{name: "storageKey a boolean", body: obj(mUser, mem("storageKey", "true"), mData), status: 400},
		{name: "storageKey a number", body: obj(mUser, mem("storageKey", "1e64"), mData), status: 400},

		// Hashes.
		{name: "storageKey of 63", body: withKey(bKey[:63]), status: 400},
		{name: "storageKey of 65", body: withKey(bKey + "0"), status: 400},
		{name: "userId of 63 on save", body: withUser(bUser[:63]), status: 400},
		{name: "userId of 65 on delete", method: "DELETE", path: "/api/user", body: obj(mem("userId", js(bUser+"a")), mKey), status: 400},
		{name: "storageKey empty", body: withKey(""), status: 400},
		{name: "storageKey non-hex", body: withKey(bKey[:63] + "g"), status: 400},
		{name: "storageKey 0x-prefixed", body: withKey("0x" + bKey[:62]), status: 400},
		{name: "storageKey padded with a space", body: withKey(" " + bKey[:63]), status: 400},
		{name: "storageKey with an Arabic-Indic digit", body: withKey(bKey[:62] + "\u0663"), status: 400},
		{name: "userId with a fullwidth digit", body: withUser(bUser[:61] + "\uff11"), status: 400},
		{name: "register with a Devanagari digit", path: "/api/register", body: obj(mem("userId", js(bUser[:61]+"\u0967"))), status: 400},
		{name: "storageKey with a NUL", body: withKey(bKey[:63] + "\x00"), status: 400},
		{name: "userId with a NUL on delete", method: "DELETE", path: "/api/user", body: obj(mem("userId", js(bUser[:63]+"\x00")), mKey), status: 400},
		{name: "storageKey with a NUL in a query", method: "GET", path: "/api/backup?userId=" + bUser + "&storageKey=" + bKey[:63] + "%00", status: 400},
		{name: "userId with a Unicode digit in a query", method: "GET", path: "/api/usage?userId=" + bUser[:62] + "%D9%A3&storageKey=" + bKey, status: 400},

		// data.
		{name: "data bare URL-safe base64", body: saveWith(strings.Repeat("-_8A", 8)), status: 400},
		{name: "data bare line-broken base64", body: saveWith(ct16 + "\r\n" + ct16), status: 400},
		{name: "data bare base64 with a space", body: saveWith(ct16 + " " + ct16), status: 400},
		{name: "data bare base64 unpadded", body: saveWith(strings.TrimRight(nonceOf(16), "=")), status: 400},
		{name: "data bare base64 padding inside", body: saveWith("QQ==" + ct16), status: 400},
		{name: "data double-encoded in the envelope", body: saveWith(env(mem("encrypted", js(js(ct16))), mem("nonce", js(nonce12)))), status: 400},
		{name: "data whitespace", body: saveWith(" "), status: 400},
		{name: "data led by whitespace", body: saveWith(" " + bData), status: 400},
		{name: "nonce URL-safe", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js("AAAAAAAAAAAAAA-_")))), status: 400},
		{name: "nonce line-broken", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(nonce12[:8]+"\n"+nonce12[8:])))), status: 400},
		{name: "nonce of 11 bytes unpadded", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(strings.TrimRight(nonceOf(11), "="))))), status: 400},
		{name: "nonce of 13 bytes, URL-safe padded", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(base64.URLEncoding.EncodeToString(make([]byte, 13)))))), status: 400},
		{name: "nonce empty", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", `""`))), status: 400},
		{name: "ciphertext empty", body: saveWith(env(mem("encrypted", `""`), mem("nonce", js(nonce12)))), status: 400},
		{name: "ciphertext of 1 byte", body: saveWith(env(mem("encrypted", js(nonceOf(1))), mem("nonce", js(nonce12)))), status: 400},
		{name: "ciphertext URL-safe", body: saveWith(env(mem("encrypted", js(strings.Repeat("_-", 12))), mem("nonce", js(nonce12)))), status: 400},
		{name: "envelope without nonce", body: saveWith(env(mem("encrypted", js(ct16)))), status: 400},
		{name: "envelope without ciphertext", body: saveWith(env(mem("nonce", js(nonce12)))), status: 400},
		{name: "envelope nonce null", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", "null"))), status: 400},
		{name: "envelope ciphertext a number", body: saveWith(env(mem("encrypted", "16"), mem("nonce", js(nonce12)))), status: 400},
		{name: "envelope Nonce", body: saveWith(env(mem("encrypted", js(ct16)), mem("Nonce", js(nonce12)))), status: 400},
		{name: "envelope duplicated nonce", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(nonce12)), mem("nonce", js(nonce12)))), status: 400},
		{name: "envelope trailing garbage", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(nonce12))) + "x"), status: 400},
		{name: "envelope trailing object", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(nonce12))) + "{}"), status: 400},
		{name: "envelope in an array", body: saveWith("[" + bData + "]"), status: 400},
		{name: "envelope appId an object", body: saveWith(env(mem("encrypted", js(ct16)), mem("nonce", js(nonce12)), mem("appId", "{}"))), status: 400},
		{name: "envelope not JSON", body: saveWith("{encrypted}"), status: 400},

		// Transport: lying lengths, chunks, compression.
		{name: "Content-Length more than sent", halfClose: true, status: 400,
			raw: rawRequest("POST", "/api/backup", valid, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(valid)+100))},
		{name: "Content-Length less than sent", status: 400,
			raw: rawRequest("POST", "/api/backup", valid, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(valid)-10))},
		{name: "Content-Length zero with a body", status: 400,
			raw: rawRequest("POST", "/api/backup", valid, "Content-Type: application/json", "Content-Length: 0")},
		{name: "chunked", status: 200, stored: envelope(40, 'c'),
			raw: rawRequest("POST", "/api/backup", chunked(saveWith(envelope(40, 'c'))[:30], saveWith(envelope(40, 'c'))[30:]),
				"Content-Type: application/json", "Transfer-Encoding: chunked")},
		{name: "chunked, malformed chunk size", status: 400,
			raw: rawRequest("POST", "/api/backup", "zz\r\n"+valid+"\r\n0\r\n\r\n", "Content-Type: application/json", "Transfer-Encoding: chunked")},
		{name: "chunked, truncated", halfClose: true, status: 400,
			raw: rawRequest("POST", "/api/backup", fmt.Sprintf("%x\r\n%s", len(valid), valid[:20]), "Content-Type: application/json", "Transfer-Encoding: chunked")},
		{name: "chunked, over the body cap", status: 413,
			raw: rawRequest("POST", "/api/backup", chunked(bodyOfLen(inBody, maxBody+1)), "Content-Type: application/json", "Transfer-Encoding: chunked")},
		{name: "gzip", body: gzipped(valid), header: map[string]string{"Content-Encoding": "gzip"}, status: 415},
		{name: "deflate on register", path: "/api/register", body: registerBody, header: map[string]string{"Content-Encoding": "deflate"}, status: 415},
		{name: "br on delete", method: "DELETE", path: "/api/user", body: deleteBody, header: map[string]string{"Content-Encoding": "br"}, status: 415},

		// Content types (those of saves are in TestSaveContentTypes).
		{name: "register as text", path: "/api/register", body: registerBody, header: map[string]string{"Content-Type": text}, status: 415},
		{name: "register as a form", path: "/api/register", body: "userId=" + bUser, header: map[string]string{"Content-Type": form}, status: 415},
		{name: "register as multipart", path: "/api/register", body: registerBody, header: map[string]string{"Content-Type": multipart}, status: 415},
		{name: "register as XML", path: "/api/register", body: "<userId>" + bUser + "</userId>", header: map[string]string{"Content-Type": xml}, status: 415},
		{name: "register without a type", path: "/api/register", body: registerBody, header: map[string]string{"Content-Type": ""}, status: 415},
		{name: "delete as text", method: "DELETE", path: "/api/user", body: deleteBody, header: map[string]string{"Content-Type": text}, status: 415},
		{name: "delete as a form", method: "DELETE", path: "/api/user", body: "userId=" + bUser + "&storageKey=" + bKey, header: map[string]string{"Content-Type": form}, status: 415},
		{name: "delete as multipart", method: "DELETE", path: "/api/user", body: deleteBody, header: map[string]string{"Content-Type": multipart}, status: 415},
		{name: "delete as XML", method: "DELETE", path: "/api/user", body: deleteBody, header: map[string]string{"Content-Type": xml}, status: 415},
		{name: "delete without a type", method: "DELETE", path: "/api/user", body: deleteBody, header: map[string]string{"Content-Type": ""}, status: 415},
		{name: "save as text/json", body: valid, header: map[string]string{"Content-Type": "text/json"}, status: 415},
		{name: "save as application/jsonl", body: valid, header: map[string]string{"Content-Type": "application/jsonl"}, status: 415},
		{name: "save with a malformed type", body: valid, header: map[string]string{"Content-Type": "application/json; charset"}, status: 415},

		// Conditional saves.
		{name: "If-Match unquoted", body: valid, header: map[string]string{"If-Match": "1"}, status: 400},
		{name: "If-Match zero", body: valid, header: map[string]string{"If-Match": `"0"`}, status: 400},
		{name: "If-Match star", body: valid, header: map[string]string{"If-Match": "*"}, status: 400},

		// Query strings.
		{name: "duplicated storageKey on versions", method: "GET", path: readPath("/api/backup/versions", "&storageKey="+bKey), status: 400},
		{name: "duplicated storageKey, other case value", method: "GET", path: readPath("/api/backup", "&storageKey="+strings.ToUpper(bKey)), status: 400},
		{name: "duplicated version", method: "GET", path: readPath("/api/backup", "&version=1&version=1"), status: 400},
		{name: "duplicated userId on activity", method: "GET", path: readPath("/api/backup/activity", "&userId="+bUser), status: 400},
		{name: "duplicated userId on usage", method: "GET", path: readPath("/api/usage", "&userId="+bUser), status: 400},
		{name: "duplicated empty parameter", method: "GET", path: readPath("/api/backup", "&version=&version="), status: 400},
		{name: "semicolon separator", method: "GET", path: "/api/backup?userId=" + bUser + ";storageKey=" + bKey, status: 400},
		{name: "version empty", method: "GET", path: readPath("/api/backup", "&version="), status: 400},
		{name: "version zero", method: "GET", path: readPath("/api/backup", "&version=0"), status: 400},
		{name: "version with a plus", method: "GET", path: readPath("/api/backup", "&version=%2B1"), status: 400},
		{name: "version fractional", method: "GET", path: readPath("/api/backup", "&version=1.0"), status: 400},
		{name: "version hexadecimal", method: "GET", path: readPath("/api/backup", "&version=0x1"), status: 400},
		{name: "version overflowing", method: "GET", path: readPath("/api/backup", "&version=99999999999999999999"), status: 400},
		{name: "version on versions", method: "GET", path: readPath("/api/backup/versions", "&version=1"), status: 400},
		{name: "unknown parameter on usage", method: "GET", path: readPath("/api/usage", "&fields=data"), status: 400},
		{name: "empty userId", method: "GET", path: "/api/backup/activity?userId=&storageKey=" + bKey, status: 400},

		// Wrong methods: 405 in the error shape, with Allow.
		{name: "PUT user", method: "PUT", path: "/api/user", body: deleteBody, status: 405, allow: "DELETE, OPTIONS"},
		{name: "POST user", method: "POST", path: "/api/user", body: deleteBody, status: 405, allow: "DELETE, OPTIONS"},
		{name: "POST versions", method: "POST", path: "/api/backup/versions", body: valid, status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "DELETE activity", method: "DELETE", path: "/api/backup/activity", status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "PATCH usage", method: "PATCH", path: "/api/usage", status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "PUT register", method: "PUT", path: "/api/register", body: registerBody, status: 405, allow: "POST, OPTIONS"},
		{name: "DELETE info", method: "DELETE", path: "/api/info", status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "PUT health", method: "PUT", path: "/health", status: 405, allow: "GET, HEAD, OPTIONS"},
		{name: "TRACE backup", method: "TRACE", path: "/api/backup", status: 405, allow: "GET, HEAD, POST, OPTIONS"},
		{name: "PUT backup with a valid save", method: "PUT", path: "/api/backup", body: valid, status: 405, allow: "GET, HEAD, POST, OPTIONS"},

		// Sizes: the data cap, and the body cap (data cap + 64 KiB). Last,
		// because the snapshots then digest megabytes.
		{name: "data at the cap minus one", body: saveWith(dataCapMinus1), status: 200, stored: dataCapMinus1},
		{name: "data at the cap", body: saveWith(dataCap), status: 200, stored: dataCap},
		{name: "data at the cap plus one", body: saveWith(envelopeOfLen(int(maxData) + 1)), status: 413},
		{name: "body at the cap minus one", body: bodyOfLen(inBody, maxBody-1), status: 200, stored: inBody},
		{name: "body at the cap", body: bodyOfLen(inBody, maxBody), status: 200, stored: inBody},
		{name: "body at the cap plus one", body: bodyOfLen(inBody, maxBody+1), status: 413},
		{name: "register body over its cap", path: "/api/register", body: obj(mUser) + strings.Repeat(" ", 4<<10), status: 413},
		{name: "delete body over its cap", method: "DELETE", path: "/api/user", body: obj(mUser, mKey) + strings.Repeat(" ", 4<<10), status: 413},
	}
}

// TestBadInput sends each case to a server holding one backup and checks
// the status, the {"error": string} shape and that a refusal stored nothing.
func TestBadInput(t *testing.T) {
	s := newServer(t)
	register(t, s, bUser)
	save(t, s, bUser, bKey, bData)
	fx := newV2Fixture(t, s)
	// v2's first: the last v1 cases store megabytes, which every later
	// snapshot then digests.
	cases := append(v2BadInputCases(s.Config.MaxBackupBytes, fx), badInputCases(s.Config.MaxBackupBytes)...)
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("case %q twice", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			before := s.Snapshot()
			r := send(t, s, c)
			if c.status == http.StatusOK {
				if r.Status != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %.200s)", r.Status, r.Body)
				}
				if got, _ := get(s, bUser, bKey).JSON(t)["data"].(string); got != c.stored {
					t.Fatalf("restore after an accepted save returned %d bytes, want %d", len(got), len(c.stored))
				}
				return
			}
			expectError(t, r, c.status)
			if c.allow != "" {
				if got := methods(r.Header.Get("Allow")); !slices.Equal(got, methods(c.allow)) {
					t.Fatalf("Allow = %v, want %v", got, methods(c.allow))
				}
			}
			s.Unchanged(before)
		})
	}
	accepted := 0
	for _, c := range cases {
		if c.status == http.StatusOK {
			accepted++
		}
	}
	t.Logf("%d bad-input cases: %d refused, %d accepted", len(cases), len(cases)-accepted, accepted)
	readmeStates(t, fmt.Sprintf("%d bad-input cases: %d refused", len(cases), len(cases)-accepted),
		fmt.Sprintf("%d accepted", accepted))
}

// readmeStates fails the test unless README.md says each of the phrases:
// the figures the README gives are the ones the tests count.
func readmeStates(t *testing.T, phrases ...string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range phrases {
		if !strings.Contains(string(readme), p) {
			t.Errorf("README.md does not say %q, which is what the test counts", p)
		}
	}
}

func methods(allow string) []string {
	var out []string
	for m := range strings.SplitSeq(allow, ",") {
		out = append(out, strings.TrimSpace(m))
	}
	slices.Sort(out)
	return out
}

func send(t *testing.T, s *servertest.Server, c badCase) *servertest.Response {
	t.Helper()
	if c.raw != "" {
		return rawDo(t, s, c.raw, c.halfClose)
	}
	req := servertest.Request{Method: c.method, Path: c.path, Body: c.body, Header: map[string]string{}}
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	if req.Path == "" {
		req.Path = "/api/backup"
	}
	if c.body == "" && req.Method != http.MethodPost {
		req.Body = nil
	}
	for k, v := range c.header {
		if k == "Content-Type" {
			req.ContentType = &v
			continue
		}
		req.Header[k] = v
	}
	return s.Do(req)
}

// rawDo writes req on a connection of its own and reads one response, for
// what net/http's client will not send: lengths that lie, chunks by hand.
func rawDo(t *testing.T, s *servertest.Server, req string, halfClose bool) *servertest.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only a guard against a hung test; the server's own timeouts are longer.
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	if halfClose {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
