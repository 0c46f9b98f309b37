package routes_test

import (
	"encoding/base64"
	"encoding/json/v2"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// fuzzTB lets one test server serve every input of a fuzz target: testing.F
// forbids its own Helper and Fail inside the target, which the servertest
// helpers call, so Helper is a no-op and a fatal error panics, which the
// fuzzing engine reports with the input.
type fuzzTB struct{ *testing.F }

func (fuzzTB) Helper() {}

func (fuzzTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

func (fuzzTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// fuzzServer has one registered user and no limits but a small data cap, so
// that inputs the fuzzer can reach cross it.
func fuzzServer(f *testing.F) *servertest.Server {
	s := servertest.New(fuzzTB{f}, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
		c.MaxBackupsPerUser, c.UserQuotaBytes, c.HistoryDepth = 0, 0, 1
		c.MaxBackupBytes = fuzzMaxData
	}))
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": fuzzUser}})
	if r.Status != http.StatusOK {
		f.Fatalf("register: %d %s", r.Status, r.Body)
	}
	// Opens the connection Snapshot uses on PostgreSQL now: its cleanup
	// cannot be registered inside the target.
	s.DB()
	return s
}

const fuzzMaxData = 256

var fuzzUser, fuzzKey = id("fuzz-user"), id("fuzz-key")

// FuzzSaveBody sends arbitrary bodies to POST /api/backup and compares the
// answer with an independent statement of the contract (docs/API.md): never
// a 5xx, refusals in the error shape with nothing stored, and a body the
// contract accepts is saved and restores byte for byte.
func FuzzSaveBody(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []string{
		saveBody(fuzzUser, fuzzKey, envelope(16, 'a')),
		saveBody(strings.ToUpper(fuzzUser), fuzzKey, base64.StdEncoding.EncodeToString([]byte("bare"))),
		saveBody(fuzzUser, fuzzKey, `{"encrypted":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAECAwQFBgcICQoL","appId":"x","version":"2"}`),
		saveBody(fuzzUser, fuzzKey, strings.Repeat("A", fuzzMaxData)),
		saveBody(fuzzUser, fuzzKey, strings.Repeat("A", fuzzMaxData+4)),
		saveBody(id("stranger"), fuzzKey, envelope(16, 'b')),
		`{"userId":"` + fuzzUser + `","storageKey":"` + fuzzKey + `","data":"QQ=="}x`,
		`{"userId":"` + fuzzUser + `","userId":"` + fuzzUser + `"}`,
		`{"userid":1,"storageKey":null,"data":[]}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		"",
		// Where a decoder could go wrong in the server and its judge alike.
		strings.TrimSuffix(saveBody(fuzzUser, fuzzKey, envelope(16, 'd')), "}") + `,"data":` + strconv.Quote(envelope(16, 'e')) + `}`,
		strings.Replace(saveBody(fuzzUser, fuzzKey, envelope(16, 'f')), `"userId"`, `"UserId"`, 1),
		strings.Replace(saveBody(fuzzUser, fuzzKey, envelope(16, 'g')), `"userId"`, `"user\u0049d"`, 1),
		strings.TrimSuffix(saveBody(fuzzUser, fuzzKey, envelope(16, 'h')), "}") + `,"user\u0049d":"` + fuzzUser + `"}`,
		saveBody(fuzzUser, fuzzKey, `{"encrypted":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAECAwQFBgcICQoL","nonce":"AAECAwQFBgcICQoL"}`),
		saveBody(fuzzUser, fuzzKey, `{"encrypted":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAECAwQFBgcICQoL","appId":null,"version":7}`),
		saveBody(fuzzUser, fuzzKey, `{"encrypted":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAECAwQFBgcICQoL","appId":"\ud800"}`),
		`{"userId":"` + fuzzUser + `","storageKey":"` + fuzzKey + `","data":"QUFB\u0041"}`,
		"{\"userId\":\"" + fuzzUser + "\",\"storageKey\":\"" + fuzzKey + "\",\"data\":\"QUFB\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := s.Snapshot()
		r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup", Body: body})
		want, req := judgeSave(body)
		if r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
		if r.Status != want {
			t.Fatalf("status %d, the contract says %d, for %q: %s", r.Status, want, body, r.Body)
		}
		if r.Status != http.StatusOK {
			checkErrorShape(t, r)
			s.Unchanged(before)
			return
		}
		got := s.Do(servertest.Request{Method: "GET", Path: getPath(req.UserID, req.StorageKey)})
		var restored struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal(got.Body, &restored); err != nil || got.Status != 200 || restored.Data != req.Data {
			t.Fatalf("saved %q, restore gave %d %q", req.Data, got.Status, got.Body)
		}
	})
}

// FuzzReadQuery sends arbitrary query strings to GET /api/backup, where
// one backup is stored: only the exact ids (and version 1) find it, and
// nothing answers a 5xx or leaves the error shape.
func FuzzReadQuery(f *testing.F) {
	s := fuzzServer(f)
	data := envelope(16, 'q')
	if r := s.Do(saveReq(fuzzUser, fuzzKey, data)); r.Status != http.StatusOK {
		f.Fatalf("save: %d %s", r.Status, r.Body)
	}
	for _, seed := range []string{
		"userId=" + fuzzUser + "&storageKey=" + fuzzKey,
		"storageKey=" + strings.ToUpper(fuzzKey) + "&userId=" + fuzzUser + "&version=1",
		"userId=" + fuzzUser + "&storageKey=" + fuzzKey + "&version=2",
		"userId=" + fuzzUser + "&storageKey=" + fuzzKey + "&userId=" + fuzzUser,
		"userId=" + fuzzUser + ";storageKey=" + fuzzKey,
		"user%49d=" + fuzzUser + "&storageKey=" + fuzzKey,
		"userId=%zz",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !sendableQuery(raw) {
			t.Skip("net/http refuses such a request line before any handler")
		}
		r := s.Do(servertest.Request{Method: "GET", Path: "/api/backup?" + raw})
		want := judgeQuery(raw)
		if r.Status != want {
			t.Fatalf("status %d, the contract says %d, for %q: %s", r.Status, want, raw, r.Body)
		}
		if r.Status != http.StatusOK {
			checkErrorShape(t, r)
			return
		}
		var got struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || got.Data != data {
			t.Fatalf("read %q: %s", raw, r.Body)
		}
	})
}

func saveBody(user, key, data string) string {
	b, _ := json.Marshal(map[string]string{"userId": user, "storageKey": key, "data": data})
	return string(b)
}

type fuzzSave struct {
	UserID     string `json:"userId"`
	StorageKey string `json:"storageKey"`
	Data       string `json:"data"`
}

// judgeSave is the contract restated for one registered user and no limits:
// the status a body must get. It parses with the hand-written oracle, never
// with the server's decoder.
func judgeSave(body []byte) (int, fuzzSave) {
	var req fuzzSave
	obj, err := parseJSONObject(body)
	if err != nil {
		return http.StatusBadRequest, req
	}
	for name, v := range obj {
		s, isString := v.(string)
		if !isString && v != nil {
			return http.StatusBadRequest, req // a member of another type
		}
		switch name {
		case "userId":
			req.UserID = s
		case "storageKey":
			req.StorageKey = s
		case "data":
			req.Data = s
		default:
			return http.StatusBadRequest, req // unknown, or in another letter case
		}
	}
	if !isHexID(req.UserID) || !isHexID(req.StorageKey) || req.Data == "" {
		return http.StatusBadRequest, req
	}
	if len(req.Data) > fuzzMaxData {
		return http.StatusRequestEntityTooLarge, req
	}
	if !validData(req.Data) {
		return http.StatusBadRequest, req
	}
	if !strings.EqualFold(req.UserID, fuzzUser) {
		return http.StatusNotFound, req
	}
	return http.StatusOK, req
}

func judgeQuery(raw string) int {
	q, err := parseQuery(raw)
	if err != nil {
		return http.StatusBadRequest
	}
	for name, vs := range q {
		if name != "userId" && name != "storageKey" && name != "version" || len(vs) != 1 {
			return http.StatusBadRequest
		}
	}
	get := func(name string) string {
		if vs := q[name]; len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	if !isHexID(get("userId")) || !isHexID(get("storageKey")) {
		return http.StatusBadRequest
	}
	version := uint64(1) // the newest, the only one stored
	if _, ok := q["version"]; ok {
		n, err := strconv.ParseUint(get("version"), 10, 63)
		if err != nil || n == 0 {
			return http.StatusBadRequest
		}
		version = n
	}
	if !strings.EqualFold(get("userId"), fuzzUser) || !strings.EqualFold(get("storageKey"), fuzzKey) || version != 1 {
		return http.StatusNotFound
	}
	return http.StatusOK
}

func isHexID(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdefABCDEF") == ""
}

// validData: the envelope with a 12-byte nonce and a ciphertext of 16 bytes
// or more, or bare base64; both canonical, padded, standard and unbroken.
func validData(data string) bool {
	if !strings.HasPrefix(data, "{") {
		_, ok := decodeB64(data)
		return ok
	}
	env, err := parseJSONObject([]byte(data))
	if err != nil {
		return false
	}
	for name, v := range env {
		if _, isString := v.(string); !isString && v != nil {
			return false
		}
		if name != "encrypted" && name != "nonce" && name != "appId" && name != "version" {
			return false
		}
	}
	encrypted, ok1 := env["encrypted"].(string)
	nonceB64, ok2 := env["nonce"].(string)
	if !ok1 || !ok2 {
		return false
	}
	nonce, ok1 := decodeB64(nonceB64)
	ct, ok2 := decodeB64(encrypted)
	return ok1 && ok2 && len(nonce) == 12 && len(ct) >= 16
}

func decodeB64(s string) ([]byte, bool) {
	// Strict still skips line breaks, which the contract refuses.
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// sendableQuery reports whether a request line carrying raw reaches the
// handlers at all.
func sendableQuery(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
			return false
		}
	}
	return true
}

// checkErrorShape is expectError without a wanted status.
func checkErrorShape(t *testing.T, r *servertest.Response) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || len(m) != 1 {
		t.Fatalf("error body is not {\"error\"}: %q", r.Body)
	}
	if msg, ok := m["error"].(string); !ok || msg == "" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("error body is not {\"error\": string}: %q", r.Body)
	}
}
