package routes_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

const testSecret = "a-signing-secret-shipped-in-the-web-app"

func signingServer(t *testing.T) *servertest.Server {
	t.Helper()
	return newServer(t, func(c *config.Config) { c.HMACSecret = []byte(testSecret) })
}

func TestSignedRequestsAccepted(t *testing.T) {
	s := signingServer(t)
	u, k := id("signed-user"), id("signed-key")
	now := s.Clock.Now().Unix()
	data := envelope(48, 's')

	reg := signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})
	expectStatus(t, s.Do(reg), http.StatusOK)
	expectStatus(t, s.Do(signed(t, testSecret, now, saveReq(u, k, data))), http.StatusOK)

	// A GET signs the path with its raw query string and the hash of an
	// empty body.
	g := s.Do(signed(t, testSecret, now, servertest.Request{Method: "GET", Path: getPath(u, k)}))
	expectStatus(t, g, http.StatusOK)
	if g.JSON(t)["data"] != data {
		t.Fatalf("signed GET returned %s", g.Body)
	}
	if !strings.Contains(getPath(u, k), "?") {
		t.Fatal("the GET under test has no query string")
	}
	versions := "/api/backup/versions?storageKey=" + k + "&userId=" + u
	expectStatus(t, s.Do(signed(t, testSecret, now, servertest.Request{Method: "GET", Path: versions})), http.StatusOK)
	expectStatus(t, s.Do(signed(t, testSecret, now, deleteReq(u, k))), http.StatusOK)
}

func TestSignatureRefused(t *testing.T) {
	s := signingServer(t)
	u, k := id("owner"), id("owner-key")
	now := s.Clock.Now().Unix()
	expectStatus(t, s.Do(signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)
	expectStatus(t, s.Do(signed(t, testSecret, now, saveReq(u, k, envelope(32, 'o')))), http.StatusOK)

	good := func() servertest.Request { return signed(t, testSecret, now, saveReq(u, k, envelope(40, 'x'))) }
	goodGet := func() servertest.Request {
		return signed(t, testSecret, now, servertest.Request{Method: "GET", Path: getPath(u, k)})
	}
	drop := func(r servertest.Request, name string) servertest.Request {
		r = withHeader(r, name, "")
		delete(r.Header, name)
		return r
	}
	cases := map[string]servertest.Request{
		"no headers":               saveReq(u, k, envelope(40, 'x')),
		"no timestamp":             drop(good(), "X-Timestamp"),
		"no signature":             drop(good(), "X-Signature"),
		"GET without headers":      {Method: "GET", Path: getPath(u, k)},
		"DELETE without headers":   deleteReq(u, k),
		"timestamp not a number":   withHeader(good(), "X-Timestamp", "yesterday"),
		"timestamp negative":       withHeader(good(), "X-Timestamp", "-"+strconv.FormatInt(now, 10)),
		"timestamp fractional":     withHeader(good(), "X-Timestamp", strconv.FormatInt(now, 10)+".5"),
		"timestamp in ms":          withHeader(good(), "X-Timestamp", strconv.FormatInt(now*1000, 10)),
		"timestamp huge":           withHeader(good(), "X-Timestamp", strings.Repeat("9", 40)),
		"signature short":          withHeader(good(), "X-Signature", strings.Repeat("a", 63)),
		"signature long":           withHeader(good(), "X-Signature", strings.Repeat("a", 65)),
		"signature upper case":     withHeader(good(), "X-Signature", strings.ToUpper(good().Header["X-Signature"])),
		"signature not hex":        withHeader(good(), "X-Signature", strings.Repeat("g", 64)),
		"signature base64":         withHeader(good(), "X-Signature", "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="),
		"wrong secret":             signed(t, testSecret+"!", now, saveReq(u, k, envelope(40, 'x'))),
		"tampered body":            withBody(good(), bodyBytes(t, saveReq(u, k, envelope(40, 'y')).Body)),
		"tampered query":           withPath(goodGet(), getPath(u, k)+"&version=1"),
		"reordered query":          withPath(goodGet(), "/api/backup?storageKey="+k+"&userId="+u),
		"tampered method":          withMethod(signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/user", Body: map[string]string{"userId": u, "storageKey": k}}), "DELETE"),
		"signed for another path":  withPath(signed(t, testSecret, now, servertest.Request{Method: "DELETE", Path: "/api/backup", Body: map[string]string{"userId": u, "storageKey": k}}), "/api/user"),
		"timestamp moved a second": withHeader(good(), "X-Timestamp", strconv.FormatInt(now+1, 10)),
	}
	before := s.Snapshot()
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.Do(r), http.StatusUnauthorized)
			s.Unchanged(before)
		})
	}
	// The owner's data is still the one saved first.
	g := s.Do(signed(t, testSecret, now+1, servertest.Request{Method: "GET", Path: getPath(u, k)}))
	if g.Status != http.StatusOK || g.JSON(t)["data"] != envelope(32, 'o') {
		t.Fatalf("after the refusals: %d %s", g.Status, g.Body)
	}
}

func withBody(r servertest.Request, body []byte) servertest.Request { r.Body = body; return r }
func withPath(r servertest.Request, path string) servertest.Request { r.Path = path; return r }
func withMethod(r servertest.Request, m string) servertest.Request  { r.Method = m; return r }

func TestSignatureReplay(t *testing.T) {
	s := signingServer(t)
	u, k := id("replayed"), id("replayed-key")
	now := s.Clock.Now().Unix()
	expectStatus(t, s.Do(signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)

	first := signed(t, testSecret, now, saveReq(u, k, envelope(32, 'a')))
	expectStatus(t, s.Do(first), http.StatusOK)
	second := signed(t, testSecret, now, saveReq(u, k, envelope(32, 'b')))
	expectStatus(t, s.Do(second), http.StatusOK)

	// Replaying the first save would roll the backup back to 'a'.
	before := s.Snapshot()
	expectError(t, s.Do(first), http.StatusUnauthorized)
	s.Unchanged(before)

	// Reads are replay-protected too.
	read := signed(t, testSecret, now, servertest.Request{Method: "GET", Path: getPath(u, k)})
	expectStatus(t, s.Do(read), http.StatusOK)
	expectError(t, s.Do(read), http.StatusUnauthorized)
	s.Unchanged(before)

	// Still refused at the very end of the window, and once the window has
	// passed, the timestamp itself is refused.
	s.Clock.Advance(299 * time.Second)
	expectError(t, s.Do(first), http.StatusUnauthorized)
	s.Clock.Advance(2 * time.Second)
	r := s.Do(first)
	expectError(t, r, http.StatusUnauthorized)
	if r.Header.Get("X-Server-Time") == "" {
		t.Fatal("a stale replay is not refused for its timestamp")
	}
	s.Unchanged(before)

	// The same request signed again (as a client that bumps its timestamp
	// does) is a new request.
	expectStatus(t, s.Do(signed(t, testSecret, s.Clock.Now().Unix(), saveReq(u, k, envelope(32, 'a')))), http.StatusOK)
}

func TestSignatureClockSkew(t *testing.T) {
	s := signingServer(t)
	u, k := id("skewed"), id("skewed-key")
	now := s.Clock.Now().Unix()
	expectStatus(t, s.Do(signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)
	before := s.Snapshot()

	for _, skew := range []int64{301, -301, 3600, -86400} {
		r := s.Do(signed(t, testSecret, now+skew, saveReq(u, k, envelope(32, 'x'))))
		expectError(t, r, http.StatusUnauthorized)
		if got := r.Header.Get("X-Server-Time"); got != strconv.FormatInt(s.Clock.Now().Unix(), 10) {
			t.Fatalf("skew %d: X-Server-Time = %q, want %d", skew, got, s.Clock.Now().Unix())
		}
		s.Unchanged(before)
	}
	for i, skew := range []int64{299, -299, 0} {
		r := s.Do(signed(t, testSecret, now+skew, saveReq(u, k, envelope(32, byte('a'+i)))))
		expectStatus(t, r, http.StatusOK)
		if r.Header.Get("X-Server-Time") != "" {
			t.Fatal("X-Server-Time on an accepted request")
		}
	}
}

// A bad signature is refused before the handler reads anything, whatever
// the body holds.
func TestSignatureCheckedBeforeHandler(t *testing.T) {
	s := signingServer(t)
	before := s.Snapshot()
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: "{not json"})
	expectError(t, r, http.StatusUnauthorized)
	s.Unchanged(before)
}

func TestNoSecretChecksNothing(t *testing.T) {
	s := newServer(t)
	u, k := id("unsigned"), id("unsigned-key")
	register(t, s, u)
	save(t, s, u, k, envelope(32, 'u'))
	// Headers a client might still send are ignored, not checked.
	r := s.Do(withHeader(withHeader(servertest.Request{Method: "GET", Path: getPath(u, k)},
		"X-Timestamp", "0"), "X-Signature", "nonsense"))
	expectStatus(t, r, http.StatusOK)
	if got := s.Do(servertest.Request{Method: "GET", Path: "/api/info"}).JSON(t)["signatureRequired"]; got != false {
		t.Fatalf("signatureRequired = %v", got)
	}
}

// A signed save's replay record is written in the save's own transaction:
// it is still there after a restart (the same database, SQLite or
// PostgreSQL), and a replayed save is refused without changing anything. A
// save the store refused leaves its record too, written afterwards.
func TestSignatureReplayAfterRestart(t *testing.T) {
	s := signingServer(t)
	u, k := id("restarted"), id("restarted-key")
	now := s.Clock.Now().Unix()
	expectStatus(t, s.Do(signed(t, testSecret, now, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)
	first := signed(t, testSecret, now, saveReq(u, k, envelope(32, 'a')))
	expectStatus(t, s.Do(first), http.StatusOK)
	second := signed(t, testSecret, now, saveReq(u, k, envelope(32, 'b')))
	expectStatus(t, s.Do(second), http.StatusOK)
	stale := signed(t, testSecret, now, withHeader(saveReq(u, k, envelope(32, 'c')), "If-Match", `"1"`))
	expectError(t, s.Do(stale), http.StatusPreconditionFailed)
	var nonces int
	if err := s.DB().NewQuery(`SELECT COUNT(*) FROM replays`).Row(&nonces); err != nil || nonces != 4 {
		t.Fatalf("%d replay records for a registration, two saves and a refused save (%v), want 4", nonces, err)
	}
	s.Stop()

	db := s.Config.DatabaseURL
	s2 := servertest.New(t, servertest.WithDataDir(s.App.DataDir()), servertest.WithConfig(func(c *config.Config) {
		c.DatabaseURL, c.HMACSecret = db, []byte(testSecret)
		c.IPBurst, c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0, 0
	}))
	before := s2.Snapshot()
	for _, r := range []servertest.Request{first, second, stale} {
		expectError(t, s2.Do(r), http.StatusUnauthorized)
	}
	s2.Unchanged(before)
	g := s2.Do(signed(t, testSecret, s2.Clock.Now().Unix(), servertest.Request{Method: "GET", Path: getPath(u, k)}))
	if g.Status != http.StatusOK || g.JSON(t)["data"] != envelope(32, 'b') {
		t.Fatalf("after the replays: %d %s", g.Status, g.Body)
	}
}
