package routes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// versionEntry is one element of GET /api/backup/versions.
type versionEntry struct {
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updatedAt"`
	Size      int64  `json:"size"`
}

func versionsPath(user, key string) string {
	return fmt.Sprintf("/api/backup/versions?userId=%s&storageKey=%s", user, key)
}

func listVersions(t *testing.T, s *servertest.Server, user, key string) []versionEntry {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: versionsPath(user, key)})
	if r.Status != http.StatusOK {
		t.Fatalf("versions: %d %s", r.Status, r.Body)
	}
	var body struct {
		Versions []versionEntry `json:"versions"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("versions body %s: %v", r.Body, err)
	}
	return body.Versions
}

func getVersion(s *servertest.Server, user, key string, version int64) *servertest.Response {
	return s.Do(servertest.Request{Method: "GET", Path: getPath(user, key) + "&version=" + strconv.FormatInt(version, 10)})
}

// historyRows counts the previous versions the database holds.
func historyRows(t *testing.T, s *servertest.Server) int {
	t.Helper()
	var n int
	// Every version is a row; the newest of each backup is not history.
	if err := s.DB().NewQuery(`SELECT (SELECT COUNT(*) FROM backup_versions) - (SELECT COUNT(*) FROM backups)`).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type savedVersion struct {
	data, updatedAt string
}

// saveVersions saves n distinct blobs (of distinct sizes) a minute apart and
// returns them by version.
func saveVersions(t *testing.T, s *servertest.Server, user, key string, n int, afterEach func(i int)) map[int64]savedVersion {
	t.Helper()
	saved := map[int64]savedVersion{}
	for i := 1; i <= n; i++ {
		s.Clock.Advance(time.Minute)
		data := envelope(100+i, byte('a'+i))
		m := save(t, s, user, key, data).JSON(t)
		if m["version"] != float64(i) {
			t.Fatalf("save %d answered version %v", i, m["version"])
		}
		saved[int64(i)] = savedVersion{data, m["updatedAt"].(string)}
		if afterEach != nil {
			afterEach(i)
		}
	}
	return saved
}

// Every save keeps the previous blobs, the last 10 by default, pruned in the
// save's own transaction; each kept version comes back exactly as saved.
func TestHistoryKeepsTheLastVersions(t *testing.T) {
	s := newServer(t)
	if s.Config.HistoryDepth != 10 {
		t.Fatalf("default history depth = %d, want 10", s.Config.HistoryDepth)
	}
	u, k := id("u"), id("k")
	register(t, s, u)
	saved := saveVersions(t, s, u, k, 13, func(i int) {
		// Pruned by the save itself: no later job is needed to hold the depth.
		if got, want := historyRows(t, s), min(i-1, 10); got != want {
			t.Fatalf("after save %d the database holds %d previous versions, want %d", i, got, want)
		}
	})

	vs := listVersions(t, s, u, k)
	if len(vs) != 11 {
		t.Fatalf("%d versions listed, want 11: %+v", len(vs), vs)
	}
	for i, v := range vs {
		want := int64(13 - i) // newest first
		if v.Version != want || v.UpdatedAt != saved[want].updatedAt || v.Size != int64(len(saved[want].data)) {
			t.Fatalf("versions[%d] = %+v, want version %d at %s of %d bytes",
				i, v, want, saved[want].updatedAt, len(saved[want].data))
		}
	}

	for v := int64(3); v <= 13; v++ {
		r := getVersion(s, u, k, v)
		m := r.JSON(t)
		if r.Status != http.StatusOK || m["data"] != saved[v].data || m["version"] != float64(v) ||
			m["updatedAt"] != saved[v].updatedAt || r.Header.Get("ETag") != `"`+strconv.FormatInt(v, 10)+`"` {
			t.Fatalf("version %d: %d %.200s (ETag %s)", v, r.Status, r.Body, r.Header.Get("ETag"))
		}
	}

	before := s.Snapshot()
	for _, v := range []int64{1, 2, 14} {
		if msg := expectError(t, getVersion(s, u, k, v), http.StatusNotFound); msg == notFoundBody(t, s) {
			t.Fatalf("version %d: the owner is told the backup does not exist: %q", v, msg)
		}
	}
	s.Unchanged(before)

	if m := get(s, u, k).JSON(t); m["data"] != saved[13].data || m["version"] != float64(13) {
		t.Fatalf("plain GET = version %v, want the newest (13)", m["version"])
	}
}

// notFoundBody is the one message for a user or key that proves nothing.
func notFoundBody(t *testing.T, s *servertest.Server) string {
	t.Helper()
	return expectError(t, get(s, id("nobody"), id("nothing")), http.StatusNotFound)
}

func TestHistoryDepthSetting(t *testing.T) {
	for _, depth := range []int{0, 2} {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			s := newServer(t, func(c *config.Config) { c.HistoryDepth = depth })
			u, k := id("u"), id("k")
			register(t, s, u)
			saved := saveVersions(t, s, u, k, 5, nil)
			vs := listVersions(t, s, u, k)
			if len(vs) != depth+1 || historyRows(t, s) != depth {
				t.Fatalf("depth %d: versions %+v, %d history rows", depth, vs, historyRows(t, s))
			}
			for i, v := range vs {
				if v.Version != int64(5-i) {
					t.Fatalf("versions[%d] = %+v", i, v)
				}
				if m := getVersion(s, u, k, v.Version).JSON(t); m["data"] != saved[v.Version].data {
					t.Fatalf("version %d data differs", v.Version)
				}
			}
			before := s.Snapshot()
			expectError(t, getVersion(s, u, k, int64(5-depth-1)), http.StatusNotFound)
			s.Unchanged(before)
		})
	}
}

// Asking for a version that is no longer kept is no failed attempt: it
// spends nothing of the address's budget of failed lookups. A wrong key with
// a version still gets the one answer that proves nothing, and counts.
func TestHistoryMissingVersionIsNoFailedAttempt(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.HistoryDepth = 1
		c.FailedLookupBurst, c.FailedLookupRefill = 1, time.Hour
	})
	u, k := id("u"), id("k")
	register(t, s, u)
	saveVersions(t, s, u, k, 3, nil)
	before := s.Snapshot()
	for range 3 {
		expectError(t, getVersion(s, u, k, 1), http.StatusNotFound)
	}
	if r := get(s, u, k); r.Status != http.StatusOK {
		t.Fatalf("GET after asking for pruned versions: %d %s", r.Status, r.Body)
	}

	wrongKey := getVersion(s, u, id("wrong"), 2)
	unknown := get(s, id("nobody"), k)
	expectError(t, wrongKey, http.StatusNotFound)
	if string(wrongKey.Body) != string(unknown.Body) {
		t.Fatalf("a wrong key with a version answers %s, not the uniform %s", wrongKey.Body, unknown.Body)
	}
	// That failure spent the address's one token for this user.
	r := get(s, u, k)
	expectError(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.Unchanged(before)
}
