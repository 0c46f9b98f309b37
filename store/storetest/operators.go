package storetest

import (
	"cmp"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/store"
)

// Usage figures: active users by window from saves and restores, the day's
// counters added up across callers (instances), and another day kept apart.
func testUsageFigures(t *testing.T, s store.Store) {
	users := []string{ID("a"), ID("b"), ID("c")}
	for i, u := range users {
		mustRegister(t, s, u)
		mustSave(t, s, u, ID("k"+u), strings.Repeat("x", 10*(i+1)), t0, noLimits)
	}
	mustSave(t, s, users[2], ID("k"+users[2]), "y", t0, noLimits)
	err := s.RecordEvents(ctx, []store.EventRecord{
		{User: users[0], Key: ID("k" + users[0]), Kind: store.EventSaved, At: t0.Add(-2 * time.Hour)},
		{User: users[1], Key: ID("k" + users[1]), Kind: store.EventRestored, At: t0.Add(-3 * 24 * time.Hour)},
		{User: users[2], Key: ID("k" + users[2]), Kind: store.EventRestored, At: t0.Add(-20 * 24 * time.Hour)},
		{User: users[2], Kind: store.EventFailedAttempt, At: t0.Add(-time.Minute)}, // not activity of theirs
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, add := range []map[string]int64{{"save_ok": 2, "restore_refused_not_found": 1}, {"save_ok": 3}} {
		if err := s.AddUsage(ctx, t0, add); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddUsage(ctx, t0.Add(-24*time.Hour), map[string]int64{"save_ok": 100}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active1d != 1 || st.Active7d != 2 || st.Active30d != 3 {
		t.Errorf("active 1/7/30 days = %d/%d/%d, want 1/2/3", st.Active1d, st.Active7d, st.Active30d)
	}
	if st.NewestBytes != 10+20+1 || st.HistoryBytes != 30 || st.LargestBackup != 20 || st.UsersWithBackups != 3 ||
		st.Versions != 4 || st.StoredBytes != 61 {
		t.Errorf("bytes: %+v", st)
	}
	if want := map[string]int64{"save_ok": 5, "restore_refused_not_found": 1}; !reflect.DeepEqual(st.Today, want) {
		t.Errorf("today = %v, want %v", st.Today, want)
	}
	// Prune keeps 40 days of counters.
	if err := s.Prune(ctx, t0.Add(41*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(ctx, t0); len(st.Today) != 0 {
		t.Errorf("counters outlived the prune: %v", st.Today)
	}
}

// The dashboard's listing: true totals, paging, sorting by created and
// updated, filtering by id; metadata only.
func testAdminList(t *testing.T, s store.Store) {
	var keys []string
	for i := range 5 {
		u := ID("user" + string(rune('a'+i)))
		if err := s.Register(ctx, u, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		k := ID("key" + string(rune('a'+i)))
		keys = append(keys, k)
		// Created in order a..e; updated in the reverse order.
		mustSave(t, s, u, k, strings.Repeat("d", i+1), t0.Add(time.Duration(i)*time.Minute), noLimits)
		mustSave(t, s, u, k, strings.Repeat("e", i+2), t0.Add(time.Duration(10-i)*time.Minute), noLimits)
	}
	list := func(q store.AdminQuery) store.AdminPage {
		t.Helper()
		p, err := s.AdminList(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		return p
	}
	ids := func(p store.AdminPage) []string {
		var out []string
		for _, r := range p.Rows {
			out = append(out, cmp.Or(r.Key, r.ID)) // a backup by its key, a user by its id
		}
		return out
	}

	p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 2, Total: true})
	if p.Total != 5 || !reflect.DeepEqual(ids(p), keys[:2]) {
		t.Fatalf("first page = %v (total %d)", ids(p), p.Total)
	}
	r := p.Rows[0]
	if r.User != ID("usera") || r.Version != 2 || r.Size != 2 || !r.Created.Equal(t0) || !r.Updated.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("row = %+v", r)
	}
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 2, Offset: 4}); p.Total != -1 || !reflect.DeepEqual(ids(p), keys[4:]) {
		t.Fatalf("last page = %v (total %d)", ids(p), p.Total)
	}
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Sort: "updated"}); !reflect.DeepEqual(ids(p), reversed(keys)) {
		t.Fatalf("by updated = %v", ids(p))
	}
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Sort: "created", Desc: true}); !reflect.DeepEqual(ids(p), reversed(keys)) {
		t.Fatalf("by created, newest first = %v", ids(p))
	}
	// By exact id, by part of one (the dashboard's search), any of several.
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Total: true,
		Where: []store.AdminCond{{Field: "storage_key", Op: "=", Value: keys[3]}}}); p.Total != 1 || !reflect.DeepEqual(ids(p), keys[3:4]) {
		t.Fatalf("storage_key = %v", ids(p))
	} else if byID := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10,
		Where: []store.AdminCond{{Field: "id", Op: "=", Value: p.Rows[0].ID}}}); p.Rows[0].ID == "" || p.Rows[0].ID == keys[3] || !reflect.DeepEqual(ids(byID), keys[3:4]) {
		// A key is unique only per user, so a backup's dashboard id is its row id.
		t.Fatalf("row id %q finds %v", p.Rows[0].ID, ids(byID))
	}
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Any: true, Where: []store.AdminCond{
		{Field: "storage_key", Op: "~", Value: keys[1][10:30]}, {Field: "user_id", Op: "~", Value: ID("usere")[5:20]},
		{Field: "size", Op: "~", Value: "zz"}}}); !reflect.DeepEqual(ids(p), []string{keys[1], keys[4]}) {
		t.Fatalf("search = %v", ids(p))
	}
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Where: []store.AdminCond{
		{Field: "size", Op: ">=", Value: "4"}, {Field: "updated", Op: "<", Value: t0.Add(9 * time.Minute).Format(time.RFC3339)}}}); !reflect.DeepEqual(ids(p), keys[2:]) {
		t.Fatalf("size and updated = %v", ids(p))
	}
	// A LIKE wildcard in a search matches itself only.
	if p := list(store.AdminQuery{Table: store.AdminBackups, Limit: 10, Where: []store.AdminCond{{Field: "id", Op: "~", Value: "%"}}}); len(p.Rows) != 0 {
		t.Fatalf("%% matched %v", ids(p))
	}
	u := list(store.AdminQuery{Table: store.AdminUsers, Limit: 3, Desc: true, Total: true})
	if u.Total != 5 || len(u.Rows) != 3 || u.Rows[0].ID != ID("usere") || !u.Rows[0].Created.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("users = %+v", u)
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func testAdminListBadQuery(t *testing.T, s store.Store) {
	for _, q := range []store.AdminQuery{
		{Table: "replays", Limit: 1},
		{Table: store.AdminBackups},
		{Table: store.AdminBackups, Limit: 1, Sort: "encrypted_data"},
		{Table: store.AdminUsers, Limit: 1, Sort: "updated"},
		{Table: store.AdminBackups, Limit: 1, Where: []store.AdminCond{{Field: "encrypted_data", Op: "~", Value: "a"}}},
		{Table: store.AdminBackups, Limit: 1, Where: []store.AdminCond{{Field: "size", Op: ">", Value: "1; DROP TABLE users"}}},
		{Table: store.AdminBackups, Limit: 1, Where: []store.AdminCond{{Field: "id", Op: "<", Value: "a"}}},
		{Table: store.AdminBackups, Limit: 1, Where: []store.AdminCond{{Field: "id", Op: "?=", Value: "a"}}},
	} {
		if _, err := s.AdminList(ctx, q); !errors.Is(err, store.ErrBadQuery) {
			t.Errorf("%+v: err = %v, want ErrBadQuery", q, err)
		}
	}
}

// DeleteUser takes every backup, version and event of the user, and nothing
// of anyone else's.
func testDeleteUser(t *testing.T, s store.Store) {
	u, other := ID("u"), ID("other")
	mustRegister(t, s, u)
	mustRegister(t, s, other)
	mustSave(t, s, u, ID("k1"), "one", t0, noLimits)
	mustSave(t, s, u, ID("k1"), "one-b", t0, noLimits)
	mustSave(t, s, u, ID("k2"), "two", t0, noLimits)
	mustSave(t, s, other, ID("k3"), "three", t0, noLimits)
	if err := s.RecordEvents(ctx, []store.EventRecord{{User: u, Key: ID("k1"), Kind: store.EventSaved, At: t0}}); err != nil {
		t.Fatal(err)
	}
	expectErr(t, s.DeleteUser(ctx, ID("nobody")), store.ErrNotFound)
	if err := s.DeleteUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	expectErr(t, s.DeleteUser(ctx, u), store.ErrNotFound)
	_, err := s.GetBackup(ctx, u, ID("k1"), 1)
	expectErr(t, err, store.ErrNotFound)
	expectData(t, s, other, ID("k3"), "three")
	st, err := s.Stats(ctx, t0)
	if err != nil || st.Users != 1 || st.Backups != 1 || st.Versions != 1 || st.StoredBytes != 5 || st.Active1d != 0 {
		t.Fatalf("after DeleteUser: %+v, %v", st, err)
	}
	// The id is free again.
	mustRegister(t, s, u)
}
