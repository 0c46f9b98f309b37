package routes_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

func saveIfMatch(s *servertest.Server, user, key, data, ifMatch string) *servertest.Response {
	r := saveReq(user, key, data)
	r.Header = map[string]string{"If-Match": ifMatch}
	return s.Do(r)
}

func getIfNoneMatch(s *servertest.Server, path, ifNoneMatch string) *servertest.Response {
	return s.Do(servertest.Request{Method: "GET", Path: path, Header: map[string]string{"If-None-Match": ifNoneMatch}})
}

func quoted(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// Saves and GETs name the version they saw in an ETag.
func TestETags(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	for v := int64(1); v <= 3; v++ {
		r := save(t, s, u, k, envelope(40, byte('a'+v)))
		if r.Header.Get("ETag") != quoted(v) || r.JSON(t)["version"] != float64(v) {
			t.Fatalf("save %d: ETag %q, body %s", v, r.Header.Get("ETag"), r.Body)
		}
		if g := get(s, u, k); g.Header.Get("ETag") != quoted(v) {
			t.Fatalf("GET after save %d: ETag %q", v, g.Header.Get("ETag"))
		}
	}
	if g := getVersion(s, u, k, 2); g.Header.Get("ETag") != `"2"` {
		t.Fatalf("GET version 2: ETag %q", g.Header.Get("ETag"))
	}
}

func TestIfMatch(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(40, 'a'))
	save(t, s, u, k, envelope(40, 'b'))

	// Based on version 1 while 2 is the newest: refused, told the newest.
	before := s.Snapshot()
	r := saveIfMatch(s, u, k, envelope(40, 'c'), `"1"`)
	expectError(t, r, http.StatusPreconditionFailed)
	if r.Header.Get("ETag") != `"2"` {
		t.Fatalf("412 ETag = %q, want the current version \"2\"", r.Header.Get("ETag"))
	}
	s.Unchanged(before)

	// Based on the newest: saved.
	data := envelope(40, 'd')
	r = saveIfMatch(s, u, k, data, `"2"`)
	if r.Status != http.StatusOK || r.Header.Get("ETag") != `"3"` || r.JSON(t)["version"] != float64(3) {
		t.Fatalf("save based on the newest: %d %s (ETag %s)", r.Status, r.Body, r.Header.Get("ETag"))
	}
	if m := get(s, u, k).JSON(t); m["data"] != data {
		t.Fatal("the conditional save did not store its data")
	}
}

// A conditional save to a key with no backup yet has nothing to match.
func TestIfMatchWithoutBackup(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	before := s.Snapshot()
	r := saveIfMatch(s, u, k, envelope(40, 'a'), `"1"`)
	expectError(t, r, http.StatusPreconditionFailed)
	if etag := r.Header.Get("ETag"); etag != "" {
		t.Fatalf("412 names version %s of a backup that does not exist", etag)
	}
	s.Unchanged(before)
}

func TestIfMatchMalformed(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(40, 'a'))
	before := s.Snapshot()
	for _, v := range []string{`1`, `"one"`, `"0"`, `"-1"`, `""`, `"`, `*`, `"1", "2"`, `"1.0"`, `"99999999999999999999"`} {
		t.Run(v, func(t *testing.T) {
			msg := expectError(t, saveIfMatch(s, u, k, envelope(40, 'b'), v), http.StatusBadRequest)
			if msg == "" {
				t.Fatal("empty message")
			}
			s.Unchanged(before)
		})
	}
}

// Two devices save on top of the same version at once, round after round:
// exactly one wins each time and the other is told the winner's version,
// whatever the interleaving.
func TestIfMatchRace(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(1000, 'z'))
	for round := int64(1); round <= 8; round++ {
		datas := [2]string{envelope(30_000, byte('a'+round)), envelope(30_000, byte('A'+round))}
		var results [2]*servertest.Response
		start := make(chan struct{})
		var wg sync.WaitGroup
		for device := range 2 {
			wg.Go(func() {
				<-start
				results[device] = saveIfMatch(s, u, k, datas[device], quoted(round))
			})
		}
		close(start)
		wg.Wait()

		winner, loser := 0, 1
		if results[1].Status == http.StatusOK {
			winner, loser = 1, 0
		}
		w, l := results[winner], results[loser]
		if w.Status != http.StatusOK || l.Status != http.StatusPreconditionFailed {
			t.Fatalf("round %d: statuses %d and %d, want one 200 and one 412 (%s / %s)",
				round, results[0].Status, results[1].Status, results[0].Body, results[1].Body)
		}
		next := quoted(round + 1)
		if w.Header.Get("ETag") != next || l.Header.Get("ETag") != next {
			t.Fatalf("round %d: winner ETag %s, loser told %s; want %s", round, w.Header.Get("ETag"), l.Header.Get("ETag"), next)
		}
		if m := get(s, u, k).JSON(t); m["data"] != datas[winner] || m["version"] != float64(round+1) {
			t.Fatalf("round %d: stored version %v is not the winner's", round, m["version"])
		}
	}
	if n := len(listVersions(t, s, u, k)); n != 9 {
		t.Fatalf("%d versions after 8 rounds, want 9: the losers must leave nothing", n)
	}
}

// A GET that names the version the client has answers 304 with no body,
// until a save makes a newer one.
func TestIfNoneMatch(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	save(t, s, u, k, envelope(40, 'a'))

	for _, v := range []string{`"1"`, `W/"1"`, `"5", "1"`, `*`} {
		r := getIfNoneMatch(s, getPath(u, k), v)
		if r.Status != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("If-None-Match %s: %d %q (ETag %s), want 304 without body", v, r.Status, r.Body, r.Header.Get("ETag"))
		}
	}

	data := envelope(40, 'b')
	save(t, s, u, k, data)
	r := getIfNoneMatch(s, getPath(u, k), `"1"`)
	if r.Status != http.StatusOK || r.JSON(t)["data"] != data || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("If-None-Match of the old version after a save: %d %.100s", r.Status, r.Body)
	}
	// An older version asked for by number is as unchanging as any.
	if r := getIfNoneMatch(s, getPath(u, k)+"&version=1", `"1"`); r.Status != http.StatusNotModified {
		t.Fatalf("If-None-Match on version 1: %d", r.Status)
	}
	// A value that names no version of ours costs a full answer, never a 304.
	for _, v := range []string{`"2x"`, `2`, `"0"`, `""`} {
		if r := getIfNoneMatch(s, getPath(u, k), v); r.Status != http.StatusOK || r.JSON(t)["data"] != data {
			t.Fatalf("If-None-Match %s: %d", v, r.Status)
		}
	}
	// Whoever lacks the key gets the same 404 as without the header.
	before := s.Snapshot()
	expectError(t, getIfNoneMatch(s, getPath(u, id("wrong")), `"2"`), http.StatusNotFound)
	s.Unchanged(before)
}

// A client that knows nothing of versions keeps working: unconditional saves
// replace whatever is newest, and the plain GET returns it.
func TestUnconditionalClientUnaffected(t *testing.T) {
	s := newServer(t)
	u, k := id("u"), id("k")
	register(t, s, u)
	for i := range 4 {
		data := envelope(50, byte('a'+i))
		m := save(t, s, u, k, data).JSON(t)
		if m["success"] != true || m["updatedAt"] == "" {
			t.Fatalf("save %d = %v", i, m)
		}
		if g := get(s, u, k).JSON(t); g["data"] != data {
			t.Fatalf("GET after save %d did not return it", i)
		}
	}
	r := s.Do(saveReq(u, k, envelope(50, 'z')))
	if want := fmt.Sprintf(`{"success":true,"updatedAt":%q,"version":5}`, r.JSON(t)["updatedAt"]); string(r.Body) != want {
		t.Fatalf("save body = %s, want %s", r.Body, want)
	}
}
