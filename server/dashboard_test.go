package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/usage"
)

// list is a records-API list answer, as the dashboard reads it.
type list struct {
	Page       int              `json:"page"`
	PerPage    int              `json:"perPage"`
	TotalItems int              `json:"totalItems"`
	TotalPages int              `json:"totalPages"`
	Items      []map[string]any `json:"items"`
}

// authAs signs in through the records API as the dashboard does and returns
// the token.
func authAs(t testing.TB, s *servertest.Server, collection, email, password string) string {
	t.Helper()
	c, err := s.App.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	rec := core.NewRecord(c)
	rec.SetEmail(email)
	rec.SetPassword(password)
	if err := s.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/collections/" + collection + "/auth-with-password",
		Body: map[string]string{"identity": email, "password": password}})
	if r.Status != http.StatusOK {
		t.Fatalf("sign in to %s: %d %s", collection, r.Status, r.Body)
	}
	return r.JSON(t)["token"].(string)
}

func getAs(t testing.TB, s *servertest.Server, token, path string) *servertest.Response {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = token
	}
	return s.Do(servertest.Request{Method: "GET", Path: path, Header: h})
}

func listAs(t *testing.T, s *servertest.Server, token, collection string, q url.Values) list {
	t.Helper()
	r := getAs(t, s, token, "/api/collections/"+collection+"/records?"+q.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("list %s?%s: %d %s", collection, q.Encode(), r.Status, r.Body)
	}
	var l list
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func ids(l list, field string) []string {
	var out []string
	for _, it := range l.Items {
		out = append(out, fmt.Sprint(it[field]))
	}
	return out
}

// After a known sequence of registrations, saves, restores, refusals and
// deletes, a superuser reads the true rows, totals and usage figures through
// PocketBase's records API exactly as the dashboard does, on either backend;
// an anonymous caller and a signed-in non-superuser read nothing.
func TestDashboardShowsTheStore(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.NewUsersPerIPPerDay, c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst, c.RegisterPerHour = 0, 0, 0, 0, 0, 0
		c.MaxBackupBytes = 4 << 10
	}))
	do := func(method, path string, body any, want int) {
		t.Helper()
		if r := s.Do(servertest.Request{Method: method, Path: path, Body: body}); r.Status != want {
			t.Fatalf("%s %s = %d, want %d (%s)", method, path, r.Status, want, r.Body)
		}
	}
	const n = 7
	var users, keys []string
	var sizes []int
	for i := range n {
		u, k := servertest.ID(fmt.Sprint("dash-user-", i)), servertest.ID(fmt.Sprint("dash-key-", i))
		users, keys = append(users, u), append(keys, k)
		data := envelopeOf(100 * (i + 1))
		sizes = append(sizes, len(data))
		do("POST", "/api/register", map[string]string{"userId": u}, 200)
		do("POST", "/api/backup", map[string]string{"userId": u, "storageKey": k, "data": data}, 200)
		s.Clock.Advance(time.Minute) // created and updated in order
	}
	second := envelopeOf(50)
	do("POST", "/api/backup", map[string]string{"userId": users[0], "storageKey": keys[0], "data": second}, 200)
	do("POST", "/api/backup", map[string]string{"userId": users[1], "storageKey": keys[1], "data": envelopeOf(8 << 10)}, 413)
	for i := range 3 {
		do("GET", "/api/backup?userId="+users[i]+"&storageKey="+keys[i], nil, 200)
	}
	do("GET", "/api/backup?userId="+users[3]+"&storageKey="+keys[4], nil, 404) // a wrong password
	do("DELETE", "/api/user", map[string]string{"userId": users[6], "storageKey": keys[6]}, 200)

	anonymous := ""
	member := func() string {
		members := core.NewAuthCollection("members")
		if err := s.App.Save(members); err != nil {
			t.Fatal(err)
		}
		return authAs(t, s, "members", "member@example.com", "member-password-123")
	}()
	admin := authAs(t, s, core.CollectionNameSuperusers, "admin@example.com", "admin-password-123")

	// The dashboard's first page and its separate count request.
	q := url.Values{"page": {"1"}, "perPage": {"40"}, "skipTotal": {"1"}, "sort": {"-@rowid"}}
	backups := listAs(t, s, admin, "backups", q)
	if len(backups.Items) != n-1 || backups.TotalItems != -1 {
		t.Fatalf("backups: %d items, total %d", len(backups.Items), backups.TotalItems)
	}
	for _, it := range backups.Items {
		var fields []string
		for f := range it {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		want := []string{"collectionId", "collectionName", "created", "id", "size", "storage_key", "updated", "user_id", "version"}
		if !slices.Equal(fields, want) {
			t.Fatalf("a listed backup holds %v, want %v", fields, want)
		}
	}
	count := func(collection string, filter string) int {
		t.Helper()
		return listAs(t, s, admin, collection, url.Values{"page": {"1"}, "perPage": {"1"}, "fields": {"id"}, "filter": {filter}}).TotalItems
	}
	if got := count("backups", ""); got != n-1 {
		t.Fatalf("backups total = %d, want %d", got, n-1)
	}
	if got := count("users", ""); got != n-1 {
		t.Fatalf("users total = %d, want %d", got, n-1)
	}

	// Sorting by created and updated, and paging.
	byCreated := ids(listAs(t, s, admin, "backups", url.Values{"sort": {"created"}}), "id")
	newestFirst := ids(listAs(t, s, admin, "backups", url.Values{"sort": {"-created"}}), "id")
	slices.Reverse(newestFirst)
	if len(byCreated) != n-1 || !slices.Equal(byCreated, newestFirst) {
		t.Fatalf("created ascending %v, descending reversed %v", byCreated, newestFirst)
	}
	// keys[0] was saved again last: it is the most recently updated.
	byUpdated := listAs(t, s, admin, "backups", url.Values{"sort": {"-updated"}})
	if byUpdated.Items[0]["id"] != byCreated[0] || byUpdated.Items[1]["id"] != byCreated[n-2] {
		t.Fatalf("by updated: %v", ids(byUpdated, "id"))
	}
	page3 := listAs(t, s, admin, "backups", url.Values{"sort": {"created"}, "perPage": {"2"}, "page": {"3"}})
	if page3.TotalItems != n-1 || page3.TotalPages != 3 || !slices.Equal(ids(page3, "id"), byCreated[4:6]) {
		t.Fatalf("page 3: %+v", page3)
	}

	// Filtering by id, and the dashboard's search box.
	if got := count("backups", "id='"+byCreated[2]+"'"); got != 1 {
		t.Fatalf("filter by id: %d", got)
	}
	owner := fmt.Sprint(listAs(t, s, admin, "backups", url.Values{"filter": {"id='" + byCreated[2] + "'"}}).Items[0]["user_id"])
	search := fmt.Sprintf("id?~'%[1]s'||storage_key?~'%[1]s'||user_id?~'%[1]s'||version?~'%[1]s'||size?~'%[1]s'||created?~'%[1]s'||updated?~'%[1]s'", owner[8:40])
	if got := ids(listAs(t, s, admin, "backups", url.Values{"filter": {search}}), "id"); !slices.Equal(got, byCreated[2:3]) {
		t.Fatalf("search by part of the owner's id: %v", got)
	}
	view := getAs(t, s, admin, "/api/collections/backups/records/"+byCreated[2])
	if view.Status != http.StatusOK || strings.Contains(string(view.Body), "encrypted") || view.JSON(t)["user_id"] != owner {
		t.Fatalf("view: %d %s", view.Status, view.Body)
	}

	// Deleting a user in the dashboard deletes all of theirs, through the
	// store: here the last user created.
	last := listAs(t, s, admin, "backups", url.Values{"filter": {"id='" + byCreated[n-2] + "'"}}).Items[0]
	r := s.Do(servertest.Request{Method: "DELETE", Path: "/api/collections/users/records/" + fmt.Sprint(last["user_id"]),
		Header: map[string]string{"Authorization": admin}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("delete a user in the dashboard: %d %s", r.Status, r.Body)
	}
	do("GET", "/api/backup?userId="+users[5]+"&storageKey="+keys[5], nil, 404)
	if got := count("backups", ""); got != n-2 {
		t.Fatalf("backups after the dashboard delete = %d", got)
	}

	// The usage figures, fresh once the cache has expired.
	s.Clock.Advance(usage.DefaultTTL)
	figures := map[string]any{}
	for _, it := range listAs(t, s, admin, "stats", url.Values{"perPage": {"500"}}).Items {
		figures[it["id"].(string)] = it["value"]
	}
	newest := sizes[1] + sizes[2] + sizes[3] + sizes[4] + len(second)
	for id, want := range map[string]float64{
		"users_registered": 5, "users_active_1d": 5, "users_active_30d": 5, "accounts": 0,
		"backups": 5, "versions": 6,
		"stored_bytes_newest": float64(newest), "stored_bytes_history": float64(sizes[0]),
		"stored_bytes":        float64(newest + sizes[0]),
		"backup_size_average": float64(newest) / 5, "backup_size_largest": float64(sizes[4]),
		"saves_today": 9, "saves_today_succeeded": 8, "saves_today_refused": 1, "saves_today_refused_too_large": 1,
		"save_success_rate_today": 8.0 / 9,
		// The wrong password, and the check that the deleted user is gone.
		"restores_today": 5, "restores_today_succeeded": 3, "restores_today_refused_not_found": 2,
		"restore_success_rate_today": 0.6,
		"failed_attempts_today":      2,
	} {
		if got, ok := figures[id].(float64); !ok || got != want {
			t.Errorf("stats %s = %v, want %v", id, figures[id], want)
		}
	}

	// Anyone but a superuser reads nothing.
	for _, token := range []string{anonymous, member} {
		for _, c := range []string{"users", "backups", "stats"} {
			r := getAs(t, s, token, "/api/collections/"+c+"/records")
			if r.Status != http.StatusForbidden || strings.Contains(string(r.Body), `"items"`) {
				t.Errorf("list %s as %q: %d %s", c, token, r.Status, r.Body)
			}
		}
		for _, path := range []string{"/api/collections/backups/records/" + byCreated[2], "/api/collections/stats/records/users_registered"} {
			if r := getAs(t, s, token, path); r.Status == http.StatusOK {
				t.Errorf("view %s as %q: %d %s", path, token, r.Status, r.Body)
			}
		}
	}
}

// Deleting a backup in the dashboard goes through the store: its history
// goes with it, the user's other backup stays, and the user goes with the
// last one. Backups cannot be edited there.
func TestDashboardDeletesABackup(t *testing.T) {
	s := servertest.New(t)
	u, k1, k2 := servertest.ID("del-user"), servertest.ID("del-key-1"), servertest.ID("del-key-2")
	do := func(method, path string, body any, want int) {
		t.Helper()
		if r := s.Do(servertest.Request{Method: method, Path: path, Body: body}); r.Status != want {
			t.Fatalf("%s %s = %d, want %d (%s)", method, path, r.Status, want, r.Body)
		}
	}
	do("POST", "/api/register", map[string]string{"userId": u}, 200)
	do("POST", "/api/backup", map[string]string{"userId": u, "storageKey": k1, "data": envelopeOf(100)}, 200)
	s.Clock.Advance(time.Minute)
	do("POST", "/api/backup", map[string]string{"userId": u, "storageKey": k2, "data": envelopeOf(200)}, 200)
	admin := authAs(t, s, core.CollectionNameSuperusers, "admin@example.com", "admin-password-123")
	keys := ids(listAs(t, s, admin, "backups", url.Values{"sort": {"created"}}), "id")
	if len(keys) != 2 {
		t.Fatalf("backups: %v", keys)
	}
	send := func(method, id string, body any) int {
		return s.Do(servertest.Request{Method: method, Path: "/api/collections/backups/records/" + id, Body: body,
			Header: map[string]string{"Authorization": admin}}).Status
	}
	if st := send("PATCH", keys[0], map[string]any{"size": 1}); st != http.StatusBadRequest {
		t.Fatalf("PATCH a backup: %d", st)
	}
	if st := send("DELETE", keys[0], nil); st != http.StatusNoContent {
		t.Fatalf("DELETE a backup: %d", st)
	}
	if st := send("DELETE", keys[0], nil); st != http.StatusNotFound {
		t.Fatalf("DELETE it again: %d", st)
	}
	do("GET", "/api/backup?userId="+u+"&storageKey="+k1, nil, 404)
	do("GET", "/api/backup?userId="+u+"&storageKey="+k2, nil, 200)
	if st := send("DELETE", keys[1], nil); st != http.StatusNoContent {
		t.Fatalf("DELETE the last backup: %d", st)
	}
	do("POST", "/api/register", map[string]string{"userId": u}, 200) // the user went with it
}
