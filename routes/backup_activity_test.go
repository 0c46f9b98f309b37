package routes_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store"
)

// activityEvent is one entry of GET /api/backup/activity. The tests decode
// strictly: an event carries these members and nothing else.
type activityEvent struct {
	Type  string `json:"type"`
	At    string `json:"at"`
	Count int64  `json:"count"`
}

func (e activityEvent) String() string { return fmt.Sprintf("%s@%s×%d", e.Type, e.At, e.Count) }

func activityPath(user, key string) string {
	return fmt.Sprintf("/api/backup/activity?userId=%s&storageKey=%s", user, key)
}

// newActivityServer trusts the proxy header, so that requests can come from
// several addresses (see from).
func newActivityServer(t *testing.T, edit ...func(*config.Config)) *servertest.Server {
	return newServer(t, append([]func(*config.Config){behindProxy}, edit...)...)
}

func readActivity(t *testing.T, s *servertest.Server, user, key string) []activityEvent {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: activityPath(user, key)})
	if r.Status != http.StatusOK {
		t.Fatalf("activity: %d %s", r.Status, r.Body)
	}
	var body struct {
		Events []activityEvent `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Events == nil {
		t.Fatalf("activity body %s: %v", r.Body, err)
	}
	return body.Events
}

// waitActivity polls the log until ready holds: events reach the store in
// batches, once a second.
func waitActivity(t *testing.T, s *servertest.Server, user, key string, ready func([]activityEvent) bool) []activityEvent {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := readActivity(t, s, user, key)
		if ready(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the activity log never got there; it holds %v", evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// headIs is a ready condition: the newest event is want.
func headIs(want activityEvent) func([]activityEvent) bool {
	return func(evs []activityEvent) bool { return len(evs) > 0 && evs[0] == want }
}

// minute renders t as the log does: UTC, to the minute.
func minute(t time.Time) string { return t.UTC().Truncate(time.Minute).Format(time.RFC3339) }

// checkNewestFirst checks the order and that no time is finer than a minute.
func checkNewestFirst(t *testing.T, evs []activityEvent) {
	t.Helper()
	var prev time.Time
	for i, e := range evs {
		at, err := time.Parse(time.RFC3339, e.At)
		if err != nil || !at.Equal(at.Truncate(time.Minute)) || !strings.HasSuffix(e.At, ":00Z") {
			t.Fatalf("event %d: time %q is not RFC 3339 UTC to the minute", i, e.At)
		}
		if i > 0 && at.After(prev) {
			t.Fatalf("not newest first at %d: %v", i, evs)
		}
		prev = at
	}
}

// The owner sees what happened to the backup, newest first, each event to
// the minute and merged per minute.
func TestActivityNewestFirstToTheMinute(t *testing.T) {
	s := newActivityServer(t)
	user, key := id("owner"), id("owner-key")
	register(t, s, user)

	saved := s.Clock.Now()
	save(t, s, user, key, envelope(32, 'a'))
	s.Clock.Advance(61 * time.Second)
	restored := s.Clock.Now()
	for range 2 {
		if r := get(s, user, key); r.Status != http.StatusOK {
			t.Fatalf("restore: %d", r.Status)
		}
	}
	s.Clock.Advance(61 * time.Second)
	failed := s.Clock.Now()
	if r := get(s, user, id("not the key")); r.Status != http.StatusNotFound {
		t.Fatalf("restore with a wrong key: %d", r.Status)
	}

	want := []activityEvent{
		{store.EventFailedAttempt, minute(failed), 1},
		{store.EventRestored, minute(restored), 2},
		{store.EventSaved, minute(saved), 1},
	}
	got := waitActivity(t, s, user, key, headIs(want[0]))
	checkNewestFirst(t, got)
	if !slices.Equal(got, want) {
		t.Fatalf("activity = %v, want %v", got, want)
	}
}

// A stranger's guesses at the owner's backup, from other addresses, show as
// one count per minute: how many, not from where or with what.
func TestActivityCountsStrangersAttempts(t *testing.T) {
	s := newActivityServer(t)
	user, key := id("owner"), id("owner-key")
	other, otherKey := id("someone else"), id("someone else's key")
	register(t, s, user)
	register(t, s, other)
	save(t, s, user, key, envelope(32, 'a'))
	save(t, s, other, otherKey, envelope(32, 'b'))

	strangers := []string{"203.0.113.9", "198.51.100.23", "2001:db8:77::5"}
	guesses := []servertest.Request{
		{Method: "GET", Path: getPath(user, id("guess 1"))},
		{Method: "GET", Path: getPath(user, otherKey)}, // a real key, of another user
		{Method: "GET", Path: "/api/backup/versions?userId=" + user + "&storageKey=" + id("guess 2")},
		{Method: "GET", Path: "/api/usage?userId=" + user + "&storageKey=" + id("guess 3")},
		{Method: "GET", Path: activityPath(user, id("guess 4"))},
		deleteReq(user, id("guess 5")),
	}
	attempts := 0
	for _, addr := range strangers {
		for _, g := range guesses {
			r := s.Do(from(addr, g))
			expectError(t, r, http.StatusNotFound)
			attempts++
		}
	}

	got := waitActivity(t, s, user, key, func(evs []activityEvent) bool {
		return len(evs) > 0 && evs[0].Type == store.EventFailedAttempt && evs[0].Count == int64(attempts)
	})
	want := []activityEvent{
		{store.EventFailedAttempt, minute(s.Clock.Now()), int64(attempts)},
		{store.EventSaved, minute(s.Clock.Now()), 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("activity = %v, want %v", got, want)
	}
	// The other user's log is theirs alone.
	if evs := readActivity(t, s, other, otherKey); !slices.Equal(evs, []activityEvent{{store.EventSaved, minute(s.Clock.Now()), 1}}) {
		t.Fatalf("the other user's activity = %v", evs)
	}

	for _, row := range activityRows(t, s) {
		for _, secret := range append(strangers, "2001:db8:77::", user, key, otherKey) {
			if strings.Contains(strings.ToLower(row), strings.ToLower(secret)) {
				t.Errorf("an activity row holds %q: %s", secret, row)
			}
		}
	}
}

// activityRows renders every stored activity row, after checking that the
// table has no column beyond the peppered ids, the kind, the minute and the
// count: there is nowhere to keep an address, a user agent or a finer time.
func activityRows(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	rows, err := s.DB().NewQuery(`SELECT * FROM activity`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"count", "kind", "minute", "storage_key", "user_id"}; !slices.Equal(slices.Sorted(slices.Values(cols)), want) {
		t.Fatalf("activity columns = %v, want %v", cols, want)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no activity rows: nothing was checked")
	}
	return out
}

// Nothing that fails to prove ownership of the backup reads its log.
func TestActivityNeedsTheKey(t *testing.T) {
	s := newActivityServer(t)
	user, key := id("owner"), id("owner-key")
	other, otherKey := id("someone else"), id("someone else's key")
	register(t, s, user)
	register(t, s, other)
	register(t, s, id("no backup"))
	save(t, s, user, key, envelope(32, 'a'))
	save(t, s, other, otherKey, envelope(32, 'b'))

	for name, path := range map[string]string{
		"unknown user":                 activityPath(id("nobody"), key),
		"wrong key":                    activityPath(user, id("wrong")),
		"another user's key":           activityPath(user, otherKey),
		"the key with another user id": activityPath(other, key),
		"a registered user, no backup": activityPath(id("no backup"), id("nothing")),
	} {
		r := s.Do(servertest.Request{Method: "GET", Path: path})
		if msg := expectError(t, r, http.StatusNotFound); msg == "" {
			t.Fatalf("%s: empty error", name)
		}
	}
	// The same answer for each, so the status tells a guesser nothing.
	a := s.Do(servertest.Request{Method: "GET", Path: activityPath(id("nobody"), key)})
	b := s.Do(servertest.Request{Method: "GET", Path: activityPath(user, id("wrong"))})
	if !bytes.Equal(a.Body, b.Body) {
		t.Fatalf("unknown user and wrong key answer differently: %s / %s", a.Body, b.Body)
	}
}

// Saving past the history depth drops the oldest version; the owner sees
// each drop as a deleted version.
func TestActivityRecordsDeletedVersions(t *testing.T) {
	s := newActivityServer(t, func(c *config.Config) { c.HistoryDepth = 2 })
	user, key := id("owner"), id("owner-key")
	register(t, s, user)

	first := s.Clock.Now()
	for i := range 3 {
		save(t, s, user, key, envelope(32, byte('a'+i))) // versions 1-3: all kept
	}
	s.Clock.Advance(time.Minute)
	second := s.Clock.Now()
	for i := range 2 {
		save(t, s, user, key, envelope(32, byte('d'+i))) // versions 4-5: 1 and 2 dropped
	}

	// Within one minute the order is not defined; compare as a set.
	want := []activityEvent{
		{store.EventDeletedVersion, minute(second), 2},
		{store.EventSaved, minute(second), 2},
		{store.EventSaved, minute(first), 3},
	}
	got := waitActivity(t, s, user, key, func(evs []activityEvent) bool { return sameEvents(evs, want) })
	checkNewestFirst(t, got)
	r := s.Do(servertest.Request{Method: "GET", Path: "/api/backup/versions?userId=" + user + "&storageKey=" + key})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"version":3`) || strings.Contains(string(r.Body), `"version":2`) {
		t.Fatalf("versions after the prune: %d %s", r.Status, r.Body)
	}
}

func sameEvents(a, b []activityEvent) bool {
	cmp := func(x, y activityEvent) int { return strings.Compare(x.String(), y.String()) }
	return slices.Equal(slices.SortedFunc(slices.Values(a), cmp), slices.SortedFunc(slices.Values(b), cmp))
}

// Each backup keeps its last store.ActivityDepth events, and the user-wide
// failed attempts their last store.FailedAttemptDepth minutes, in a window of
// their own: a stranger's guesses never push the owner's events out. Older
// ones are deleted, not hidden.
func TestActivityKeepsTheLast50(t *testing.T) {
	s := newActivityServer(t, func(c *config.Config) { c.HistoryDepth = 0 })
	user, key := id("owner"), id("owner-key")
	register(t, s, user)

	const n = store.ActivityDepth + 5
	var savedAt []string
	for i := range n {
		s.Clock.Advance(time.Minute)
		savedAt = append(savedAt, minute(s.Clock.Now()))
		save(t, s, user, key, envelope(32, byte('a'+i%26)))
	}
	var failedAt []string
	for range n {
		s.Clock.Advance(time.Minute)
		failedAt = append(failedAt, minute(s.Clock.Now()))
		if r := s.Do(from("203.0.113.9", servertest.Request{Method: "GET", Path: getPath(user, id("guess"))})); r.Status != http.StatusNotFound {
			t.Fatalf("guess: %d", r.Status)
		}
	}

	got := waitActivity(t, s, user, key, headIs(activityEvent{store.EventFailedAttempt, failedAt[n-1], 1}))
	checkNewestFirst(t, got)
	if len(got) != store.FailedAttemptDepth+store.ActivityDepth {
		t.Fatalf("%d events, want %d", len(got), store.FailedAttemptDepth+store.ActivityDepth)
	}
	for i, e := range got {
		var want activityEvent
		if i < store.FailedAttemptDepth {
			want = activityEvent{store.EventFailedAttempt, failedAt[n-1-i], 1}
		} else {
			want = activityEvent{store.EventSaved, savedAt[n-1-(i-store.FailedAttemptDepth)], 1}
		}
		if e != want {
			t.Fatalf("event %d = %v, want %v", i, e, want)
		}
	}

	var perBackup, userWide int
	if err := s.DB().NewQuery(`SELECT COUNT(*) FROM activity WHERE storage_key <> ''`).Row(&perBackup); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().NewQuery(`SELECT COUNT(*) FROM activity WHERE storage_key = ''`).Row(&userWide); err != nil {
		t.Fatal(err)
	}
	if perBackup != store.ActivityDepth || userWide != store.FailedAttemptDepth {
		t.Fatalf("stored rows: %d for the backup, %d user-wide; want %d and %d", perBackup, userWide,
			store.ActivityDepth, store.FailedAttemptDepth)
	}
}
