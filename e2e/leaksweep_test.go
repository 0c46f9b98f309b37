package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/servertest"
)

const sweepSecret = "leak-sweep-signing-secret-0123456789"

// After a representative run (registrations, saves, restores, failed
// guesses, bad input, signed and mis-signed requests, versions, activity,
// usage, deletes, refusals of every kind; and the same of protocol v2 with
// sessions and an upgrade from v1) no raw userId, storageKey, accountId,
// authentication key, session token or plaintext, in any letter case, is
// in the data directory (every file, WALs
// included), PocketBase's log database, the server's output, or the
// PostgreSQL tables.
func TestLeakSweep(t *testing.T) {
	b := suiteBackend(t)
	dir := t.TempDir()
	env := append(noLimits("DAILYREPS_HMAC_SECRET="+sweepSecret, "DAILYREPS_LOG_LEVEL=debug",
		"DAILYREPS_FAILED_LOOKUP_BURST=3", "DAILYREPS_MAX_BACKUP_BYTES=65536"), b.env()...)
	p := start(t, dir, env...)
	secrets, storedData := representativeRun(t, p)
	secrets = append(secrets, representativeV2Run(t, p)...)

	var pgRows []byte
	if b.dsn != "" {
		pgRows = servertest.DumpSchema(t, dbx.NewFromDB(b.db(t, dir), "pgx"))
	}
	// The last request before the shutdown: its line must reach the output,
	// which gathers lines for a moment before it writes them.
	last, _ := http.NewRequest(http.MethodGet, p.URL+"/api/info", nil)
	last.Header.Set("X-Request-Id", "sweep-last-request")
	if r, err := http.DefaultClient.Do(last); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
	}
	if code := p.terminate(30 * time.Second); code != 0 { // flushes PocketBase's batched logs
		t.Fatalf("exit %d: %s", code, p.output())
	}

	haystacks := map[string][]byte{"the server's output": []byte(p.output())}
	if !strings.Contains(p.output(), `"requestId":"sweep-last-request"`) {
		t.Fatal("the last request's line is not in the server's output: it was lost at the shutdown")
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		haystacks[strings.TrimPrefix(path, dir)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.dsn != "" {
		haystacks["the PostgreSQL tables"] = pgRows
	}
	runs := hexRuns(secrets)
	for name, hay := range haystacks {
		lower := asciiLower(hay)
		for _, s := range secrets {
			if bytes.Contains(lower, []byte(strings.ToLower(s.value))) {
				t.Errorf("%s holds %s", name, s.name)
			}
		}
		if what, at, ok := findRun(lower, runs); ok {
			t.Errorf("%s holds part of %s: %q", name, what, lower[at:at+hexRun])
		}
	}

	// The sweep could have found something: the logs recorded the
	// requests and the stored blobs are where it looked.
	aux := append(haystacks["/auxiliary.db"], haystacks["/auxiliary.db-wal"]...)
	if !bytes.Contains(aux, []byte("/api/backup")) || !bytes.Contains(aux, []byte("404")) {
		t.Fatal("the request log holds no API request: nothing was checked")
	}
	stored := pgRows
	for _, name := range []string{"/data.db", "/data.db-wal"} {
		stored = append(stored, haystacks[name]...)
	}
	if !bytes.Contains(stored, []byte(storedData[len(storedData)/2:][:40])) {
		t.Fatal("the stored backup was not found where the sweep looked")
	}
	t.Logf("%s: %d files and streams swept for %d secrets", b.name, len(haystacks), len(secrets))
}

type secret struct{ name, value string }

// hexRun is how long a run of hex digits taken from an id or key may not
// appear anywhere: a prefix or a slice of one narrows a search as the whole
// does. 16 digits (64 bits) do not turn up by chance.
const hexRun = 16

// hexRuns maps every run of hexRun digits of the hex secrets to the
// secret's name.
func hexRuns(secrets []secret) map[[hexRun]byte]string {
	runs := map[[hexRun]byte]string{}
	for _, s := range secrets {
		v := strings.ToLower(s.value)
		if strings.Trim(v, "0123456789abcdef") != "" {
			continue
		}
		for i := 0; i+hexRun <= len(v); i++ {
			runs[[hexRun]byte([]byte(v[i:i+hexRun]))] = s.name
		}
	}
	return runs
}

// findRun reports the first place in hay (lower case) where a run of runs
// stands.
func findRun(hay []byte, runs map[[hexRun]byte]string) (string, int, bool) {
	for i := 0; i+hexRun <= len(hay); i++ {
		if name, ok := runs[[hexRun]byte(hay[i:i+hexRun])]; ok {
			return name, i, true
		}
	}
	return "", 0, false
}

// asciiLower folds ASCII letters only: bytes.ToLower would rewrite the
// invalid UTF-8 of binary files, and the secrets are ASCII.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// representativeRun drives the server as clients, careless clients and
// attackers would, and returns what must never be found, and a blob that
// must be stored.
func representativeRun(t *testing.T, p *process) ([]secret, string) {
	ctx := context.Background()
	c := &client.Client{BaseURL: p.URL, Secret: []byte(sweepSecret)}
	kept, err := client.Derive("Leak-Sweep-Kept", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := client.Derive("leak-sweep-deleted", "Tr0ub4dor&3")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"exercises":[{"name":"sweep-canary-pistol-squats","reps":[5,5,5]}]}`)
	secrets := []secret{
		{"the plaintext", "sweep-canary-pistol-squats"},
		{"a username", "leak-sweep-kept"}, {"a username", "leak-sweep-deleted"},
		{"a password", "correct horse battery staple"}, {"a password", "Tr0ub4dor&3"},
		{"the signing secret", sweepSecret},
	}
	for _, id := range []client.Identity{kept, gone} {
		secrets = append(secrets, secret{"a userId", id.Credentials.UserID}, secret{"a storageKey", id.Credentials.StorageKey},
			secret{"an encryption key", fmt.Sprintf("%x", id.EncryptionKey)})
	}

	// What clients do.
	for _, id := range []client.Identity{kept, gone} {
		acct := client.NewAccountWithIdentity(c, id)
		must(t, acct.Register(ctx, ""))
		for range 3 {
			_, err := acct.SaveDocument(ctx, plain)
			must(t, err)
		}
		got, err := acct.RestoreDocument(ctx)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("restore: %v", err)
		}
		_, err = acct.RestoreVersion(ctx, 1)
		must(t, err)
		_, err = acct.Versions(ctx)
		must(t, err)
		_, err = acct.Activity(ctx)
		must(t, err)
		_, err = acct.Usage(ctx)
		must(t, err)
	}
	backup, err := c.Get(ctx, kept.Credentials, client.GetOptions{})
	must(t, err)

	// Failed guesses, up to the lockout.
	for i := range 5 {
		wrong := client.Credentials{UserID: kept.Credentials.UserID, StorageKey: hexID(fmt.Sprint("guess", i))}
		if _, err := c.Get(ctx, wrong, client.GetOptions{}); err == nil {
			t.Fatal("a wrong storage key restored a backup")
		}
	}
	// The registered user again, and a key of one user used by the other.
	if err := client.NewAccountWithIdentity(c, kept).Register(ctx, ""); err == nil {
		t.Fatal("registered twice")
	}
	// A backup is (userId, storageKey): this is another backup of its own,
	// answered as a fresh key, and removed again.
	crossed := client.Credentials{UserID: gone.Credentials.UserID, StorageKey: kept.Credentials.StorageKey}
	if r, err := c.Save(ctx, crossed, backup.Data, client.SaveOptions{}); err != nil || r.Version != 1 {
		t.Fatalf("save under another user's key: %+v, %v; want a fresh backup", r, err)
	}
	must(t, c.Delete(ctx, crossed))
	if _, err := c.Save(ctx, kept.Credentials, backup.Data, client.SaveOptions{IfMatch: 1}); err == nil {
		t.Fatal("a stale If-Match saved")
	}

	// What careless clients and attackers send, ids included.
	a := newAPI(p.URL)
	u, k := kept.Credentials.UserID, kept.Credentials.StorageKey
	U, K := strings.ToUpper(u), strings.ToUpper(k)
	q := "userId=" + u + "&storageKey=" + k
	signed := func(method, target string, body []byte, header ...string) {
		ts := time.Now().Unix()
		h := append([]string{"X-Timestamp", strconv.FormatInt(ts, 10),
			"X-Signature", client.Sign([]byte(sweepSecret), ts, method, target, body)}, header...)
		st, _, resp, err := a.call(method, target, body, h...)
		if err != nil || st >= 500 {
			t.Fatalf("%s %s: %d %v %s", method, target, st, err, resp)
		}
	}
	unsigned := func(method, target string, body []byte, header ...string) {
		st, _, resp, err := a.call(method, target, body, header...)
		if err != nil || st >= 500 {
			t.Fatalf("%s %s: %d %v %s", method, target, st, err, resp)
		}
	}
	for _, target := range []string{
		"/api/backup?" + q + "&version=99", "/api/backup?" + q + "&version=x", "/api/backup?" + q + "&userId=" + U,
		"/api/backup?userid=" + U + "&storagekey=" + K, "/api/backup?user%49d=" + u + "&storage%4Bey=" + k,
		"/api/backup/?" + q, "/api/backupx?" + q, "/api/nothing?USERID=" + U, "/api/backups?" + q,
		"/api/backup?%zz&user%49d=" + u, "/api/backup?" + url.QueryEscape(q), "/?" + q, "/index.html?" + q,
		"/api/collections/users/records?filter=id='" + u + "'", "/api/backup/" + u, "/api/user/" + U + "/" + k,
		"/" + u, "/api/backup?" + percentEncoded(q), "/api/" + percentEncoded(k), "/api/backup/versions/" + k[:40],
	} {
		signed("GET", target, nil)
		unsigned("GET", target, nil)
	}
	unsigned("GET", "/", nil, "Referer", "https://app.example/restore?"+q)
	// Ids as request ids, which the access log would otherwise record.
	for _, rid := range []string{k, u, U, K} {
		signed("GET", "/api/backup?"+q, nil, "X-Request-Id", rid)
		unsigned("GET", "/api/usage?"+q, nil, "X-Request-Id", rid)
		unsigned("GET", "/health", nil, "X-Request-Id", rid)
	}
	unsigned("GET", "/api/nothing", nil, "Referer", "https://app.example/"+U)
	for _, body := range []string{
		`{"userId":"` + u + `","storageKey":"` + k + `","data":"not base64!"}`,
		`{"userId":"` + U + `","storageKey":"` + K + `","data":` + strconv.Quote(backup.Data) + `,"extra":1}`,
		`{"userId":"` + u + `","userId":"` + u + `"}`,
		`{"userId":"` + u + `","storageKey":"` + k + `","data":"` + strings.Repeat("A", 70000) + `"}`,
		`{"userId":"` + u + `","storageKey":"` + k + `"` + strings.Repeat(" ", 200_000) + `}`,
		`{"userId":"` + u + `"` + strings.Repeat("[", 20000),
		`{"userId":"` + u + `\u0000","storageKey":"` + k + `"}`,
	} {
		signed("POST", "/api/backup", []byte(body))
		signed("POST", "/api/backup", []byte(body), "Content-Type", "text/plain")
		signed("DELETE", "/api/user", []byte(body))
		signed("POST", "/api/register", []byte(body))
		unsigned("POST", "/api/backup", []byte(body))
		signed("PUT", "/api/backup", []byte(body))
	}
	mis := func(method, target string, body []byte, ts int64, secret string) {
		st, _, _, err := a.call(method, target, body, "X-Timestamp", strconv.FormatInt(ts, 10),
			"X-Signature", client.Sign([]byte(secret), ts, method, target, body))
		if err != nil || st != http.StatusUnauthorized {
			t.Fatalf("a mis-signed %s %s: %d %v", method, target, st, err)
		}
	}
	now := time.Now().Unix()
	mis("GET", "/api/backup?"+q, nil, now, "the wrong secret, long enough")
	mis("GET", "/api/backup?"+q, nil, now-3600, sweepSecret)
	mis("POST", "/api/backup", jsonBody("userId", u, "storageKey", k, "data", backup.Data), now+3600, sweepSecret)
	replay := []string{"X-Timestamp", strconv.FormatInt(now, 10), "X-Signature", client.Sign([]byte(sweepSecret), now, "GET", "/api/usage?"+q, nil)}
	for range 2 {
		unsigned("GET", "/api/usage?"+q, nil, replay...)
	}

	// One account leaves.
	must(t, client.NewAccountWithIdentity(c, gone).Delete(ctx))
	if _, err := client.NewAccountWithIdentity(c, gone).RestoreDocument(ctx); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("restore after delete: %v", err)
	}
	return secrets, backup.Data
}

// percentEncoded escapes every byte, as no client needs to.
func percentEncoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
