package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// The first layout (schema 1: the newest version in backups.encrypted_data,
// older ones in backup_history, storage keys unique server-wide), written
// row by row with the statements that layout's store ran, so that each
// backend's migration can be tested on a database as a released server left
// it.

// V1Columns names what differs between the backends in the first layout.
type V1Columns struct {
	Created, Updated string              // time columns of users and backups
	TimeArg          func(time.Time) any // their encoding
}

// V1Fixture is what WriteV1 stored.
type V1Fixture struct {
	// Versions by backup, oldest first: the last is the newest.
	Backups map[[2]string][]store.Backup
	Users   []string
	Events  map[[2]string][]store.Event // by (user, key), newest first
}

// v1Blob is a blob of n bytes that differs in every version and holds
// characters a careless copy would mangle.
func v1Blob(n int, seed string) string {
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, `{"encrypted":"%s/+=é\u00a0\t","nonce":"%x"}`, seed, b.Len())
	}
	return b.String()[:n]
}

// WriteV1 fills a database that has the first layout: three users (one
// without backups), a backup with a full history of large blobs, one with a
// short history, one without, and activity.
func WriteV1(t *testing.T, db dbx.Builder, c V1Columns, historyDepth int) V1Fixture {
	t.Helper()
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 123e6, time.UTC)
	a, b, idle := ID("v1-user-a"), ID("v1-user-b"), ID("v1-user-idle")
	f := V1Fixture{Backups: map[[2]string][]store.Backup{}, Users: []string{a, b, idle}, Events: map[[2]string][]store.Event{}}
	exec := func(q string, p dbx.Params) {
		t.Helper()
		if _, err := db.NewQuery(q).Bind(p).Execute(); err != nil {
			t.Fatalf("write v1: %v\n%s", err, q)
		}
	}
	for _, u := range f.Users {
		exec(fmt.Sprintf(`INSERT INTO users (id, %s) VALUES ({:user}, {:now})`, c.Created),
			dbx.Params{"user": u, "now": c.TimeArg(t0)})
	}
	backups := []struct {
		user, key string
		versions  int
		size      int
	}{{a, ID("v1-key-a"), historyDepth + 1, 200 << 10}, {a, ID("v1-key-a2"), 1, 10}, {b, ID("v1-key-b"), 3, 5000}}
	for i, bk := range backups {
		var vs []store.Backup
		for v := 1; v <= bk.versions; v++ {
			at := t0.Add(time.Duration(i*100+v) * time.Minute)
			vs = append(vs, store.Backup{Data: v1Blob(bk.size+v, fmt.Sprint(i, "-", v)), Version: int64(v), UpdatedAt: at})
		}
		f.Backups[[2]string{bk.user, bk.key}] = vs
		newest := vs[len(vs)-1]
		exec(fmt.Sprintf(`INSERT INTO backups (storage_key, user_id, encrypted_data, version, size, %s, %s)
			VALUES ({:key}, {:user}, {:data}, {:version}, {:size}, {:created}, {:updated})`, c.Created, c.Updated),
			dbx.Params{"key": bk.key, "user": bk.user, "data": newest.Data, "version": newest.Version,
				"size": len(newest.Data), "created": c.TimeArg(vs[0].UpdatedAt), "updated": c.TimeArg(newest.UpdatedAt)})
		for _, h := range vs[:len(vs)-1] {
			exec(`INSERT INTO backup_history (storage_key, user_id, version, encrypted_data, size, updated)
				VALUES ({:key}, {:user}, {:version}, {:data}, {:size}, {:updated})`,
				dbx.Params{"key": bk.key, "user": bk.user, "version": h.Version, "data": h.Data, "size": len(h.Data),
					"updated": h.UpdatedAt.UnixMilli()})
		}
	}
	minute := t0.Unix() / 60
	for _, e := range []struct {
		user, key, kind string
		minute, count   int64
	}{{a, ID("v1-key-a"), store.EventSaved, minute + 5, 3}, {a, ID("v1-key-a"), store.EventRestored, minute + 7, 2},
		{a, "", store.EventFailedAttempt, minute + 6, 4}, {b, ID("v1-key-b"), store.EventSaved, minute + 1, 1}} {
		exec(`INSERT INTO activity (user_id, storage_key, kind, minute, count) VALUES ({:user}, {:key}, {:kind}, {:minute}, {:count})`,
			dbx.Params{"user": e.user, "key": e.key, "kind": e.kind, "minute": e.minute, "count": e.count})
	}
	at := func(m int64) time.Time { return time.Unix(m*60, 0).UTC() }
	userWide := store.Event{Kind: store.EventFailedAttempt, At: at(minute + 6), Count: 4}
	f.Events[[2]string{a, ID("v1-key-a")}] = []store.Event{{Kind: store.EventRestored, At: at(minute + 7), Count: 2},
		userWide, {Kind: store.EventSaved, At: at(minute + 5), Count: 3}}
	f.Events[[2]string{a, ID("v1-key-a2")}] = []store.Event{userWide}
	f.Events[[2]string{b, ID("v1-key-b")}] = []store.Event{{Kind: store.EventSaved, At: at(minute + 1), Count: 1}}
	return f
}

// CheckV1 verifies, through the store, that everything WriteV1 stored is
// served after the migration: every version byte for byte with its time and
// size, version lists, activity, usage and totals; and that the backups
// keep saving.
func CheckV1(t *testing.T, s store.Store, f V1Fixture) {
	t.Helper()
	var versions, bytes int64
	for id, vs := range f.Backups {
		user, key := id[0], id[1]
		newest := vs[len(vs)-1]
		if got, err := s.GetBackup(ctx, user, key, 0); err != nil || got != newest {
			t.Fatalf("newest of %.8s: %v (version %d, %d bytes, at %v; want %d, %d, %v)", key, err,
				got.Version, len(got.Data), got.UpdatedAt, newest.Version, len(newest.Data), newest.UpdatedAt)
		}
		var want []store.VersionInfo
		for _, v := range slices.Backward(vs) {
			got, err := s.GetBackup(ctx, user, key, v.Version)
			if err != nil || got != v {
				t.Fatalf("version %d of %.8s: %v (%d bytes at %v; want %d at %v)", v.Version, key, err,
					len(got.Data), got.UpdatedAt, len(v.Data), v.UpdatedAt)
			}
			want = append(want, store.VersionInfo{Version: v.Version, UpdatedAt: v.UpdatedAt, Size: int64(len(v.Data))})
			versions++
			bytes += int64(len(v.Data))
		}
		if got, err := s.Versions(ctx, user, key); err != nil || !slices.Equal(got, want) {
			t.Fatalf("versions of %.8s = %+v, %v; want %+v", key, got, err, want)
		}
		if got, err := s.Activity(ctx, user, key); err != nil || !slices.Equal(got, f.Events[id]) {
			t.Fatalf("activity of %.8s = %+v, %v; want %+v", key, got, err, f.Events[id])
		}
	}
	st, err := s.Stats(ctx)
	want := store.Stats{Users: int64(len(f.Users)), Backups: int64(len(f.Backups)), Versions: versions, StoredBytes: bytes}
	if err != nil || st != want {
		t.Fatalf("stats = %+v, %v; want %+v", st, err, want)
	}
	a, key := ID("v1-user-a"), ID("v1-key-a")
	if u, err := s.Usage(ctx, a, key); err != nil || u.Backups != 2 {
		t.Fatalf("usage = %+v, %v", u, err)
	}
	// The full history keeps its depth: the next save drops the oldest.
	vs := f.Backups[[2]string{a, key}]
	r, err := s.SaveBackup(ctx, store.SaveRequest{User: a, Key: key, Data: "after", Now: t0,
		Limits: store.SaveLimits{HistoryDepth: len(vs) - 1}})
	if err != nil || r.Version != int64(len(vs))+1 || r.Pruned != 1 {
		t.Fatalf("save after the migration = %+v, %v", r, err)
	}
	expectData(t, s, a, key, "after")
}
