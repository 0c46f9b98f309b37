package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/store/postgres/pgtest"
)

// signingSecret is the DAILYREPS_HMAC_SECRET of the instances that sign.
const signingSecret = "e2e-signing-secret-of-the-pair"

// TestTwoInstancesShareOnePostgres runs two server processes, on two ports,
// against one PostgreSQL schema, as two machines behind a load balancer
// would: whatever one stores or counts, the other sees.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	app := applicationName(t, dsn)
	// Each instance names itself to the server, and each its own TLS mode:
	// both come from its DSN alone.
	dsnA := withParams(t, dsn, map[string]string{"application_name": app + "_a", "sslmode": "prefer"})
	dsnB := withParams(t, dsn, map[string]string{"application_name": app + "_b", "sslmode": "disable"})
	env := []string{
		"DAILYREPS_HMAC_SECRET=" + signingSecret,
		// One test client stands for many users. The per-address limits,
		// which each instance keeps in its own memory, would refuse it
		// first; the per-backup save limits under test keep their defaults.
		"DAILYREPS_IP_BURST=100000", "DAILYREPS_REGISTER_PER_HOUR=0", "DAILYREPS_NEW_USERS_PER_IP_PER_DAY=0",
	}
	a := start(t, "", append(env, "DAILYREPS_DATABASE_URL="+dsnA)...)
	b := start(t, "", append(env, "DAILYREPS_DATABASE_URL="+dsnB)...)
	secret := []byte(signingSecret)

	t.Run("RestoreThroughTheOther", func(t *testing.T) {
		user, key := idOf("restore-user"), idOf("restore-key")
		a.expect(t, registerRequest(user, secret), http.StatusOK)
		first := sealedData("saved through A")
		a.expect(t, saveRequest(user, key, first, secret), http.StatusOK)
		expectBackup(t, b, user, key, secret, first, 1)

		second := sealedData("saved through B")
		b.expect(t, saveRequest(user, key, second, secret), http.StatusOK)
		expectBackup(t, a, user, key, secret, second, 2)
	})

	t.Run("SaveLimitHoldsAcrossBoth", func(t *testing.T) {
		user, key := idOf("limit-user"), idOf("limit-key")
		a.expect(t, registerRequest(user, secret), http.StatusOK)
		const perHour = 5 // DAILYREPS_SAVES_PER_HOUR's default
		for i := range perHour {
			p := []*process{a, b}[i%2]
			p.expect(t, saveRequest(user, key, sealedData(fmt.Sprint("save ", i)), secret), http.StatusOK)
		}
		before := pgSnapshot(t, dsn)
		for name, p := range map[string]*process{"A": a, "B": b} {
			r := p.expect(t, saveRequest(user, key, sealedData("one too many through "+name), secret), http.StatusTooManyRequests)
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 {
				t.Errorf("429 through %s: Retry-After %q", name, r.header.Get("Retry-After"))
			}
		}
		pgUnchanged(t, dsn, before)
	})

	t.Run("ReplayRefusedByTheOther", func(t *testing.T) {
		user, key := idOf("replay-user"), idOf("replay-key")
		a.expect(t, registerRequest(user, secret), http.StatusOK)
		for i, pair := range [][2]*process{{a, b}, {b, a}} {
			signed := saveRequest(user, key, sealedData(fmt.Sprint("signed once ", i)), secret).prepare(t)
			pair[0].expectPrepared(t, signed, http.StatusOK)
			before := pgSnapshot(t, dsn)
			pair[1].expectPrepared(t, signed, http.StatusUnauthorized)
			pgUnchanged(t, dsn, before)
		}
	})

	t.Run("RegisterRaceHasOneWinner", func(t *testing.T) {
		user := idOf("race-user")
		before := countRows(t, dsn, "users")
		const racers = 16
		statuses := make([]int, racers)
		// Distinct timestamps give each racer its own signature, so that
		// the replay record refuses none of them.
		now := time.Now()
		prepared := make([]preparedRequest, racers)
		for i := range racers {
			r := registerRequest(user, secret)
			r.at = now.Add(-time.Duration(i) * time.Second)
			prepared[i] = r.prepare(t)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			p := []*process{a, b}[i%2]
			wg.Go(func() {
				<-start
				statuses[i] = p.sendPrepared(t, prepared[i]).status
			})
		}
		close(start)
		wg.Wait()
		counts := map[int]int{}
		for _, s := range statuses {
			counts[s]++
		}
		if counts[http.StatusOK] != 1 || counts[http.StatusConflict] != racers-1 {
			t.Fatalf("statuses of %d racing registrations: %v, want one 200 and the rest 409", racers, counts)
		}
		if after := countRows(t, dsn, "users"); after != before+1 {
			t.Fatalf("users: %d before the race, %d after", before, after)
		}
	})

	t.Run("EachInstanceKeepsItsDSNSettings", func(t *testing.T) {
		conn := pgConnect(t, dsn)
		var serverSSL string
		if err := conn.QueryRow(context.Background(), `SHOW ssl`).Scan(&serverSSL); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			app     string
			wantSSL bool
		}{{app + "_a", serverSSL == "on"}, {app + "_b", false}} {
			var backends, withSSL int
			err := conn.QueryRow(context.Background(), `SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl)
				FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1`,
				c.app).Scan(&backends, &withSSL)
			if err != nil {
				t.Fatal(err)
			}
			if backends == 0 {
				t.Fatalf("no connection is named %s: the DSN's application_name was lost", c.app)
			}
			if want := map[bool]int{true: backends, false: 0}[c.wantSSL]; withSSL != want {
				t.Errorf("%s: %d of %d connections use TLS, want %d (server ssl=%s)", c.app, withSSL, backends, want, serverSSL)
			}
		}
	})

	t.Run("StatsCountsWhatBothStored", func(t *testing.T) {
		cliEnv := []string{"DAILYREPS_DATABASE_URL=" + dsnA}
		out, err := runCLI(t, cliEnv, "stats", "--json", "--dir", a.DataDir)
		if err != nil {
			t.Fatalf("stats --json: %v", err)
		}
		var got struct {
			Backend                               string
			Users, Backups, Versions, StoredBytes int64
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("stats --json printed %q: %v", out, err)
		}
		conn := pgConnect(t, dsn)
		want := got
		err = conn.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM backups),
			(SELECT COUNT(*) FROM backup_versions), (SELECT COALESCE(SUM(size), 0) FROM backup_versions)`).
			Scan(&want.Users, &want.Backups, &want.Versions, &want.StoredBytes)
		if err != nil {
			t.Fatal(err)
		}
		want.Backend = "postgres"
		if got != want || got.Backups == 0 {
			t.Fatalf("stats --json = %+v, the schema holds %+v", got, want)
		}
		text, err := runCLI(t, cliEnv, "stats", "--dir", b.DataDir)
		if err != nil || !strings.Contains(text, fmt.Sprintf("Users:     %d\n", want.Users)) {
			t.Fatalf("stats printed %q, %v", text, err)
		}
		t.Logf("stats:\n%s", text)
	})
}

// apiRequest is one API request. With a secret it is signed at its
// timestamp (now when at is zero), as the client library signs.
type apiRequest struct {
	method, path string
	body         any // sent as JSON unless nil
	secret       []byte
	at           time.Time
}

// preparedRequest is an apiRequest as it goes on the wire, so that the same
// bytes and headers can be sent twice.
type preparedRequest struct {
	method, path string
	body         []byte
	header       http.Header
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func registerRequest(user string, secret []byte) apiRequest {
	return apiRequest{method: "POST", path: "/api/register", body: map[string]string{"userId": user}, secret: secret}
}

func saveRequest(user, key, data string, secret []byte) apiRequest {
	return apiRequest{method: "POST", path: "/api/backup", secret: secret,
		body: map[string]string{"userId": user, "storageKey": key, "data": data}}
}

func getRequest(path, user, key string, secret []byte) apiRequest {
	return apiRequest{method: "GET", path: path + "?userId=" + user + "&storageKey=" + key, secret: secret}
}

func (r apiRequest) prepare(t testing.TB) preparedRequest {
	t.Helper()
	pr := preparedRequest{method: r.method, path: r.path, header: http.Header{}}
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			t.Fatal(err)
		}
		pr.body = b
		pr.header.Set("Content-Type", "application/json")
	}
	if len(r.secret) > 0 {
		at := r.at
		if at.IsZero() {
			at = freshTimestamp()
		}
		pr.header.Set(client.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
		pr.header.Set(client.HeaderSignature, client.Sign(r.secret, at.Unix(), r.method, r.path, pr.body))
	}
	return pr
}

// stamped counts the requests signed at freshTimestamp.
var stamped atomic.Int64

// freshTimestamp gives each signed request a second of its own, inside the
// signature window. The server refuses a signature it has seen, and two
// identical requests signed in one second (two restores of one backup) have
// the same signature.
func freshTimestamp() time.Time {
	const window = 240 // seconds, under DAILYREPS_SIGNATURE_WINDOW's 300
	return time.Now().Add(-time.Duration(stamped.Add(1)%window) * time.Second)
}

// apiClient waits long enough for any timeout the server applies itself.
var apiClient = &http.Client{Timeout: 20 * time.Second}

func (p *process) sendPrepared(t testing.TB, pr preparedRequest) apiResponse {
	t.Helper()
	req, err := http.NewRequest(pr.method, p.URL+pr.path, bytes.NewReader(pr.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = pr.header.Clone()
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", pr.method, pr.path, err)
		return apiResponse{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: read the response: %v", pr.method, pr.path, err)
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

func (p *process) send(t testing.TB, r apiRequest) apiResponse {
	t.Helper()
	return p.sendPrepared(t, r.prepare(t))
}

// expect sends r and fails the test unless the status is want; an error
// status must come in the API's error shape.
func (p *process) expect(t testing.TB, r apiRequest, want int) apiResponse {
	t.Helper()
	return p.expectPrepared(t, r.prepare(t), want)
}

func (p *process) expectPrepared(t testing.TB, pr preparedRequest, want int) apiResponse {
	t.Helper()
	resp := p.sendPrepared(t, pr)
	if resp.status != want {
		t.Fatalf("%s %s: %d %s, want %d", pr.method, pr.path, resp.status, resp.body, want)
	}
	if want >= 400 {
		errorMessage(t, resp)
	}
	return resp
}

// errorMessage checks that resp is exactly {"error": "<sentence>"} and
// returns the sentence.
func errorMessage(t testing.TB, resp apiResponse) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); err != nil || len(m) != 1 {
		t.Fatalf("%d: the body is not {\"error\": ...}: %s", resp.status, resp.body)
	}
	msg, ok := m["error"].(string)
	if !ok || msg == "" || resp.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d: the body is not {\"error\": string} as JSON: %s (%s)", resp.status, resp.body, resp.header.Get("Content-Type"))
	}
	return msg
}

// expectBackup restores the newest backup through p and checks it.
func expectBackup(t testing.TB, p *process, user, key string, secret []byte, data string, version int64) {
	t.Helper()
	resp := p.expect(t, getRequest("/api/backup", user, key, secret), http.StatusOK)
	var got struct {
		Data    string
		Version int64
	}
	if err := json.Unmarshal(resp.body, &got); err != nil || got.Data != data || got.Version != version {
		t.Fatalf("restored version %d %q (%v), want version %d %q", got.Version, got.Data, err, version, data)
	}
}

// idOf is a valid 64-hex id derived from name.
func idOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// sealedData is a well-formed data value standing for a sealed document.
func sealedData(plain string) string {
	b, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString([]byte(plain + strings.Repeat(".", 16))),
		"nonce":     "AAECAwQFBgcICQoL",
	})
	return string(b)
}

// runCLI runs the binary with args in the environment start gives a server,
// plus env, and returns what it printed to stdout.
func runCLI(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DAILYREPS_PEPPER=" + testPepper}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s", err, stderr.String())
	}
	return stdout.String(), nil
}

func withParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	out, err := pgtest.WithParams(dsn, params)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applicationName is the application_name dsn gives its connections.
func applicationName(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RuntimeParams["application_name"]
}

// pgConnect opens a connection to dsn's schema, apart from any server's.
func pgConnect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func countRows(t testing.TB, dsn, table string) int {
	t.Helper()
	var n int
	if err := pgConnect(t, dsn).QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pgSnapshot renders the users, backups and history in dsn's schema (each
// blob as a digest), so that a test can prove a refused request changed
// nothing.
func pgSnapshot(t testing.TB, dsn string) string {
	t.Helper()
	conn := pgConnect(t, dsn)
	var b strings.Builder
	for _, q := range []string{
		`SELECT id FROM users ORDER BY id`,
		`SELECT storage_key || ' ' || user_id || ' v' || version FROM backups ORDER BY user_id, storage_key`,
		`SELECT b.storage_key || ' ' || b.user_id || ' v' || v.version || ' ' || md5(v.encrypted_data)
			FROM backup_versions v JOIN backups b ON b.id = v.backup_id ORDER BY b.user_id, b.storage_key, v.version`,
	} {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(lines, "\n") + "\n--\n")
	}
	return b.String()
}

func pgUnchanged(t testing.TB, dsn, before string) {
	t.Helper()
	if after := pgSnapshot(t, dsn); after != before {
		t.Fatalf("stored data changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
