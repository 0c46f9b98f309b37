package routes_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

func TestSave(t *testing.T) {
	s := newServer(t)
	u, k := id("alice"), id("alice-key")
	register(t, s, u)
	data := envelope(64, 'x')
	r := save(t, s, u, k, data)
	m := r.JSON(t)
	at, err := time.Parse(time.RFC3339, m["updatedAt"].(string))
	if m["success"] != true || err != nil || at.Location() != time.UTC || time.Since(at) > time.Minute {
		t.Fatalf("save response = %s", r.Body)
	}
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag = %q", r.Header.Get("ETag"))
	}
	// An upsert: the same key again replaces the data.
	data2 := envelope(80, 'y')
	save(t, s, u, strings.ToUpper(k), data2)
	g := get(s, u, k).JSON(t)
	if g["data"] != data2 || g["version"] != float64(2) {
		t.Fatalf("get after upsert = %v", g)
	}
}

func TestSaveBareBase64(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	data := base64.StdEncoding.EncodeToString([]byte("older clients sent bare base64"))
	save(t, s, u, k, data)
	if got := get(s, u, k).JSON(t)["data"]; got != data {
		t.Fatalf("data = %v", got)
	}
}

func TestSaveUnknownUser(t *testing.T) {
	s := newServer(t)
	before := s.Snapshot()
	expectError(t, s.Do(saveReq(id("ghost"), id("k"), envelope(32, 'a'))), http.StatusNotFound)
	s.Unchanged(before)
}

func TestSaveInvalid(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'a'))
	before := s.Snapshot()
	nonce := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	ct := base64.StdEncoding.EncodeToString(make([]byte, 32))
	env := func(enc, non string) string { return `{"encrypted":"` + enc + `","nonce":"` + non + `"}` }
	cases := map[string]struct {
		data   string
		status int
	}{
		"nonce of 11 bytes":          {env(ct, nonce(11)), 400},
		"nonce of 13 bytes":          {env(ct, nonce(13)), 400},
		"ciphertext under 16 bytes":  {env(base64.StdEncoding.EncodeToString(make([]byte, 15)), nonce(12)), 400},
		"url-safe base64":            {env(strings.Repeat("-_", 16), nonce(12)), 400},
		"line-broken base64":         {env(ct[:20]+"\n"+ct[20:], nonce(12)), 400},
		"unknown envelope member":    {`{"encrypted":"` + ct + `","nonce":"` + nonce(12) + `","x":"y"}`, 400},
		"envelope member wrong type": {`{"encrypted":"` + ct + `","nonce":"` + nonce(12) + `","version":2}`, 400},
		"double-encoded":             {`"` + strings.ReplaceAll(env(ct, nonce(12)), `"`, `\"`) + `"`, 400},
		"not base64":                 {"hello world!", 400},
		"empty":                      {"", 400},
		"non-canonical padding":      {"QR==", 400},
		"too large":                  {base64.StdEncoding.EncodeToString(make([]byte, 5<<20)), 413},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.Do(saveReq(u, k, c.data)), c.status)
			s.Unchanged(before)
		})
	}
	// Optional string members for future clients are accepted.
	save(t, s, u, k, `{"encrypted":"`+ct+`","nonce":"`+nonce(12)+`","appId":"dailyreps","version":"2"}`)
}

func TestSaveContentTypes(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	before := s.Snapshot()
	body := `{"userId":"` + u + `","storageKey":"` + k + `","data":"` + strings.ReplaceAll(envelope(32, 'a'), `"`, `\"`) + `"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ""} {
		r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup", Body: body, ContentType: ptr(ct)})
		expectError(t, r, http.StatusUnsupportedMediaType)
		s.Unchanged(before)
	}
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/backup", Body: body, ContentType: ptr("application/json; charset=utf-8")})
	if r.Status != 200 {
		t.Fatalf("json with charset: %d %s", r.Status, r.Body)
	}
}

// Two saves racing on one key leave one of the two blobs whole.
func TestSaveRace(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	a, b := envelope(400_000, 'a'), envelope(400_000, 'b')
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			d := a
			if i%2 == 1 {
				d = b
			}
			if r := s.Do(saveReq(u, k, d)); r.Status != 200 {
				t.Errorf("save: %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	got := get(s, u, k).JSON(t)["data"]
	if got != a && got != b {
		t.Fatalf("after racing saves the data is neither blob (len %d)", len(got.(string)))
	}
}
