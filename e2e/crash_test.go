package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the integrity check reads data.db itself

	"github.com/dailyreps/backup/client"
)

// A save answered 200 is durable: the server is killed (SIGKILL, as a crash
// would) in the middle of a stream of saves, again and again, and after every
// restart each acknowledged save restores byte for byte, or a later one does,
// never a torn mix; the SQLite files (PocketBase's own, on PostgreSQL) pass an
// integrity check after every crash. It runs on the suite's backend.
func TestCrashDuringSaves(t *testing.T) {
	crashLoop(t, suiteBackend(t))
}

// crashIterations is at least 20; DAILYREPS_CRASH_ITERATIONS raises it.
func crashIterations(t *testing.T) int {
	n := 20
	if s := os.Getenv("DAILYREPS_CRASH_ITERATIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("DAILYREPS_CRASH_ITERATIONS=%q", s)
		}
		n = max(n, v)
	}
	return n
}

const crashWriters = 3 // one key each, saved by one writer in sequence

// crashHistory keeps every version a run can acknowledge, so that each
// acknowledged version can be read back by number.
const crashHistory = 1000

// keyLog is what one writer knows about its key.
type keyLog struct {
	acked    map[int64]int // version -> seq of the payload acknowledged with it
	unread   []int64       // versions acknowledged since the last check
	lastSeq  int           // the last acknowledged payload
	lastVer  int64
	inFlight int // the seq sent when the server died (0: none)
	nextSeq  int
}

func crashLoop(t *testing.T, b backend) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	env := append(noLimits(fmt.Sprintf("DAILYREPS_HISTORY_DEPTH=%d", crashHistory)), b.env()...)
	user := hexID("crash-user")
	logs := make([]*keyLog, crashWriters)
	for i := range logs {
		logs[i] = &keyLog{acked: map[int64]int{}, nextSeq: 1}
	}

	iterations := crashIterations(t)
	totalAcked, committedInFlight := 0, 0
	binary(t) // built before the clock starts
	start0 := time.Now()
	for it := range iterations {
		p := start(t, dir, env...)
		a := newAPI(p.URL)
		if it == 0 {
			if st, err := a.register(user); err != nil || st != http.StatusOK {
				t.Fatalf("register: %d %v", st, err)
			}
		} else {
			for k, l := range logs {
				committedInFlight += checkKey(t, a, user, k, l, false)
			}
		}

		var wg sync.WaitGroup
		failures := make(chan error, crashWriters)
		firstAck := make(chan struct{})
		acked := sync.OnceFunc(func() { close(firstAck) })
		for k, l := range logs {
			wg.Go(func() {
				if err := writeUntilDead(a, user, k, l, acked); err != nil {
					failures <- err
				}
			})
		}
		// The kill comes at a random point after the saves got going.
		select {
		case <-firstAck:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		p.kill()
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Errorf("run %d: %v", it, err)
		}
		if t.Failed() {
			t.Fatalf("server errors: %s\n%s", serverErrors(t, dir), p.output())
		}
		integrityCheck(t, filepath.Join(dir, "data.db"))
		integrityCheck(t, filepath.Join(dir, "auxiliary.db"))
	}

	// A last clean start: everything acknowledged is still there, then a
	// clean stop leaves consistent files too.
	p := start(t, dir, env...)
	a := newAPI(p.URL)
	for k, l := range logs {
		committedInFlight += checkKey(t, a, user, k, l, true)
		totalAcked += len(l.acked)
	}
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d: %s", code, p.output())
	}
	integrityCheck(t, filepath.Join(dir, "data.db"))
	if totalAcked < iterations {
		t.Fatalf("only %d saves acknowledged in %d runs: the kills came too early to test anything", totalAcked, iterations)
	}
	t.Logf("%s: %d crashes, %d saves acknowledged and restored byte for byte, %d unacknowledged saves found committed, %v",
		b.name, iterations, totalAcked, committedInFlight, time.Since(start0).Round(time.Millisecond))
}

// noLimits is the environment of a server with every limit that would get
// in the way of load off.
func noLimits(extra ...string) []string {
	return append([]string{
		"DAILYREPS_IP_BURST=0", "DAILYREPS_REGISTER_PER_HOUR=0", "DAILYREPS_NEW_USERS_PER_IP_PER_DAY=0",
		"DAILYREPS_SAVES_PER_HOUR=0", "DAILYREPS_SAVES_PER_DAY=0", "DAILYREPS_FAILED_LOOKUP_BURST=0",
		"DAILYREPS_MAX_BACKUPS_PER_USER=0", "DAILYREPS_MAX_BACKUPS_PER_IP=0", "DAILYREPS_USER_QUOTA_BYTES=0",
	}, extra...)
}

// writeUntilDead saves payload after payload to key k until the server
// dies; a refusal is an error.
func writeUntilDead(a *api, user string, k int, l *keyLog, acked func()) error {
	key := hexID(fmt.Sprintf("crash-key-%d", k))
	for {
		seq := l.nextSeq
		l.nextSeq++
		l.inFlight = seq
		st, v, err := a.save(user, key, payload(k, seq), "")
		if err != nil {
			return nil // the server died with this save in flight
		}
		if st != http.StatusOK {
			return fmt.Errorf("save %d of key %d: status %d", seq, k, st)
		}
		l.inFlight = 0
		l.acked[v] = seq
		l.unread = append(l.unread, v)
		l.lastSeq, l.lastVer = seq, v
		acked()
	}
}

// checkKey reads a key back after a crash: the newest version is the last
// acknowledged save or the one in flight when the server died, whole, and
// the versions acknowledged since the last check (all of them when all is
// set) restore byte for byte. It reports whether the save in flight was found
// committed.
func checkKey(t *testing.T, a *api, user string, k int, l *keyLog, all bool) int {
	t.Helper()
	key := hexID(fmt.Sprintf("crash-key-%d", k))
	inFlight := l.inFlight
	l.inFlight = 0
	st, data, v, err := a.get(user, key, 0)
	if err != nil || st != http.StatusOK && (st != http.StatusNotFound || l.lastVer > 0) {
		t.Fatalf("key %d: restore after a crash: %d %v", k, st, err)
	}
	if st == http.StatusNotFound {
		return 0 // nothing acknowledged yet, and nothing in flight committed
	}
	seq := payloadSeq(t, data)
	if want := payload(k, seq); data != want {
		t.Fatalf("key %d: restored data is torn (%d bytes, payload %d is %d bytes)", k, len(data), seq, len(want))
	}
	committed := 0
	switch {
	case seq == l.lastSeq && v == l.lastVer:
	case seq == inFlight && inFlight != 0 && v == l.lastVer+1:
		// Committed, but the answer never left: it counts as acknowledged
		// from here on, or a later save would look like a lost version.
		committed = 1
		l.acked[v] = seq
		l.unread = append(l.unread, v)
		l.lastSeq, l.lastVer = seq, v
	default:
		t.Fatalf("key %d: restored payload %d version %d; last acknowledged %d version %d, in flight %d",
			k, seq, v, l.lastSeq, l.lastVer, inFlight)
	}
	versions := l.unread
	if all {
		versions = slices.Collect(maps.Keys(l.acked))
	}
	l.unread = nil
	for _, ver := range versions {
		seq := l.acked[ver]
		st, data, got, err := a.get(user, key, ver)
		if err != nil || st != http.StatusOK || got != ver || data != payload(k, seq) {
			t.Fatalf("key %d: acknowledged version %d: %d %v (version %d, %d bytes)", k, ver, st, err, got, len(data))
		}
	}
	return committed
}

// payload is save seq of key k: an envelope of 1 to 64 KiB of ciphertext
// derived from (k, seq), naming its seq in appId so a restore can be traced
// back to the save it came from.
func payload(k, seq int) string {
	return sizedPayload(k, seq, 1024+rand.New(rand.NewPCG(uint64(k), uint64(seq))).IntN(63<<10))
}

// sizedPayload is payload with a ciphertext of size bytes.
func sizedPayload(k, seq, size int) string {
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("%d/%d/%d", k, seq, size))
	r := rand.NewChaCha8(seed)
	ct, nonce := make([]byte, size), make([]byte, 12)
	_, _ = r.Read(ct)
	_, _ = r.Read(nonce)
	b, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString(ct),
		"nonce":     base64.StdEncoding.EncodeToString(nonce),
		"appId":     "seq-" + strconv.Itoa(seq),
	})
	return string(b)
}

func payloadSeq(t *testing.T, data string) int {
	t.Helper()
	var env struct {
		AppID string `json:"appId"`
	}
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		t.Fatalf("restored data is not an envelope (torn?): %v", err)
	}
	seq, err := strconv.Atoi(strings.TrimPrefix(env.AppID, "seq-"))
	if err != nil {
		t.Fatalf("restored data names no save: %q", env.AppID)
	}
	return seq
}

// integrityCheck runs SQLite's own check on a database file, read-only,
// while no server has it open.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []string
	r, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("%s: integrity_check: %v", filepath.Base(path), err)
	}
	defer r.Close()
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, s)
	}
	if err := r.Err(); err != nil || len(rows) != 1 || rows[0] != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v", filepath.Base(path), rows, err)
	}
}

// serverErrors lists the errors the server logged in PocketBase's log
// database, to explain a 5xx.
func serverErrors(t *testing.T, dataDir string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "auxiliary.db")+"?mode=ro")
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	rows, err := db.Query(`SELECT message || ' ' || data FROM _logs WHERE level >= 4 ORDER BY created`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		b.WriteString(s + "\n")
	}
	return b.String()
}

// hexID is a valid 64-hex id derived from name.
func hexID(name string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
}

// api calls a server the way a client would, returning transport errors
// instead of failing the test: the reliability tests expect some.
type api struct {
	base   string
	client *http.Client
	secret []byte // when set, signs every request that carries no signature
	mu     sync.Mutex
	signed map[string]bool // the signatures v2 used (see signOnce)
}

func newAPI(base string) *api {
	return &api{base: base, client: &http.Client{Timeout: time.Minute}}
}

// call sends one request and reads the whole answer; header is name,
// value pairs.
func (a *api) call(method, path string, body []byte, header ...string) (int, http.Header, []byte, error) {
	h := http.Header{}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return a.do(method, path, body, h)
}

// do is the one place the end-to-end tests send a request from.
func (a *api) do(method, path string, body []byte, header http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = header.Clone()
	if a.secret != nil && req.Header.Get("X-Signature") == "" {
		ts := time.Now().Unix()
		req.Header.Set("X-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Signature", client.Sign(a.secret, ts, method, path, body))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func (a *api) register(user string) (int, error) {
	st, _, _, err := a.call("POST", "/api/register", jsonBody("userId", user))
	return st, err
}

// save returns the status and, on a 200, the version.
func (a *api) save(user, key, data, ifMatch string) (int, int64, error) {
	var h []string
	if ifMatch != "" {
		h = []string{"If-Match", ifMatch}
	}
	st, _, b, err := a.call("POST", "/api/backup", jsonBody("userId", user, "storageKey", key, "data", data), h...)
	if err != nil || st != http.StatusOK {
		return st, 0, err
	}
	var r struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Version < 1 {
		return st, 0, fmt.Errorf("save answered %q: %v", b, err)
	}
	return st, r.Version, nil
}

// get reads the newest version (version 0) or the given one.
func (a *api) get(user, key string, version int64) (int, string, int64, error) {
	q := url.Values{"userId": {user}, "storageKey": {key}}
	if version > 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	st, _, b, err := a.call("GET", "/api/backup?"+q.Encode(), nil)
	if err != nil || st != http.StatusOK {
		return st, "", 0, err
	}
	var r struct {
		Data    string `json:"data"`
		Version int64  `json:"version"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return st, "", 0, fmt.Errorf("restore answered %d bytes that are not JSON: %v", len(b), err)
	}
	return st, r.Data, r.Version, nil
}

func (a *api) delete(user, key string) (int, error) {
	st, _, _, err := a.call("DELETE", "/api/user", jsonBody("userId", user, "storageKey", key))
	return st, err
}

func jsonBody(kv ...string) []byte {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

// errorShape reports whether b is exactly {"error": "<non-empty>"}.
func errorShape(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("not JSON: %q", b)
	}
	if s, ok := m["error"].(string); !ok || s == "" || len(m) != 1 {
		return errors.New("not {\"error\": string}: " + string(b))
	}
	return nil
}
