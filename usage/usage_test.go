package usage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "github.com/dailyreps/backup/migrations"
	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/sqlite"
	"github.com/dailyreps/backup/usage"
)

func byID(fs []usage.Figure) map[string]usage.Figure {
	m := map[string]usage.Figure{}
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}

// A figure drawn from fewer than MinUsers users is withheld; counts of
// users, backups and versions never are.
func TestFiguresWithholdSmallSets(t *testing.T) {
	small := store.Stats{Users: 4, Accounts: 3, Backups: 4, Versions: 9, NewestBytes: 400, HistoryBytes: 500, StoredBytes: 900,
		LargestBackup: 200, UsersWithBackups: 4, Active1d: 4, Active7d: 4, Active30d: 4,
		Today: map[string]int64{usage.SaveOK: 3, usage.FailedAttempt: 2}}
	f := byID(usage.Figures(small))
	for _, id := range []string{"users_registered", "accounts", "backups", "versions"} {
		if f[id].Withheld {
			t.Errorf("%s withheld", id)
		}
	}
	for _, id := range []string{"users_active_1d", "stored_bytes", "backup_size_largest", "backup_size_average",
		"saves_today_succeeded", "save_success_rate_today", "failed_attempts_today"} {
		if !f[id].Withheld {
			t.Errorf("%s shown for 4 users: %v", id, f[id].Value)
		}
	}

	big := small
	big.Users, big.UsersWithBackups, big.Active1d, big.Backups = 5, 5, 5, 5
	big.Today = map[string]int64{usage.SaveOK: 3, usage.SaveRefused + "too_large": 1, usage.RestoreOK: 2}
	f = byID(usage.Figures(big))
	for id, want := range map[string]float64{"users_active_1d": 5, "accounts": 3, "stored_bytes": 900, "backup_size_largest": 200,
		"backup_size_average": 80, "saves_today": 4, "saves_today_refused_too_large": 1, "save_success_rate_today": 0.75,
		"restores_today": 2, "restore_success_rate_today": 1, "failed_attempts_today": 0} {
		if f[id].Withheld || f[id].Value != want {
			t.Errorf("%s = %v (withheld %v), want %v", id, f[id].Value, f[id].Withheld, want)
		}
	}
	// Every labelled metric uses a fixed label.
	for _, fig := range usage.Figures(big) {
		if fig.Label != "" && fig.Label != "window" && fig.Label != "outcome" && fig.Label != "reason" {
			t.Errorf("%s has label %s", fig.ID, fig.Label)
		}
	}
}

type failingStore struct {
	store.Store
	fail  bool
	added []map[string]int64
}

func (s *failingStore) AddUsage(_ context.Context, _ time.Time, counts map[string]int64) error {
	if s.fail {
		return errors.New("down")
	}
	c := map[string]int64{}
	for k, v := range counts {
		c[k] = v
	}
	s.added = append(s.added, c)
	return nil
}

// The tally maps requests to the day's counters and keeps them through a
// failed flush.
func TestTally(t *testing.T) {
	st := &failingStore{fail: true}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tl := usage.NewTally(st, func() time.Time { return now }, time.Hour, nil)
	defer tl.Close()
	tl.Observe("POST /api/backup", 200, 0)
	tl.Observe("POST /api/backup", 429, 0)
	tl.Observe("POST /api/backup", 500, 0)
	tl.Observe("GET /api/backup", 304, 0)
	tl.Observe("GET /api/backup", 404, 0)
	tl.Observe("GET /api/usage", 200, 0) // not counted
	tl.FailedAttempt()
	if err := tl.Flush(context.Background()); err == nil {
		t.Fatal("flush to a failing store succeeded")
	}
	st.fail = false
	if err := tl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"save_ok": 1, "save_refused_rate_limited": 1, "save_error": 1, "restore_ok": 1,
		"restore_refused_not_found": 1, "failed_attempt": 1}
	if len(st.added) != 1 || len(st.added[0]) != len(want) {
		t.Fatalf("added %v, want %v", st.added, want)
	}
	for k, v := range want {
		if st.added[0][k] != v {
			t.Errorf("%s = %d, want %d", k, st.added[0][k], v)
		}
	}
}

// The cache reads at most once per TTL, failures included.
func TestCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	reads := 0
	c := usage.NewCache(func(context.Context, time.Time) (store.Stats, error) {
		reads++
		return store.Stats{Users: int64(reads)}, nil
	}, 10*time.Second, func() time.Time { return now })
	for range 3 {
		if s, _ := c.Get(context.Background()); s.Users != 1 {
			t.Fatalf("users = %d", s.Users)
		}
	}
	now = now.Add(10 * time.Second)
	if s, _ := c.Get(context.Background()); s.Users != 2 || reads != 2 {
		t.Fatalf("not refreshed after the TTL: %d reads", reads)
	}
}

// Counters from two tallies (two instances) add up in one store.
func TestTalliesAddUp(t *testing.T) {
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	st, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for range 2 {
		tl := usage.NewTally(st, func() time.Time { return now }, time.Hour, nil)
		tl.Observe("POST /api/backup", 200, 0)
		tl.Close() // flushes
	}
	s, err := st.Stats(context.Background(), now)
	if err != nil || s.Today[usage.SaveOK] != 2 {
		t.Fatalf("today = %v, %v", s.Today, err)
	}
}
