package activity_test

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/dailyreps/backup/activity"
	_ "github.com/dailyreps/backup/migrations"
	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/sqlite"
	"github.com/dailyreps/backup/store/storetest"
)

func newStore(t *testing.T) store.Store {
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	st, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRecorderFlushesOnClose(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	u, k := storetest.ID("u"), storetest.ID("k")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.Register(ctx, u, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "x", Now: now}); err != nil {
		t.Fatal(err)
	}
	// A long interval: only Close can have written the events.
	r := activity.New(st, time.Hour, nil)
	r.Record(u, k, store.EventRestored, now)
	r.Record(u, k, store.EventRestored, now)
	r.Record(u, "", store.EventFailedAttempt, now)
	r.Close()
	r.Close() // idempotent
	ev, err := st.Activity(ctx, u, k)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, e := range ev {
		counts[e.Kind] += e.Count
	}
	if counts[store.EventRestored] != 2 || counts[store.EventFailedAttempt] != 1 {
		t.Fatalf("recorded %v", counts)
	}
	if r.Dropped() != 0 {
		t.Fatalf("dropped %d", r.Dropped())
	}
}

func TestRecorderDropsWhenFull(t *testing.T) {
	st := newStore(t)
	r := activity.New(st, time.Hour, nil)
	defer r.Close()
	for range 5000 {
		r.Record(storetest.ID("u"), "", store.EventFailedAttempt, time.Now())
	}
	if r.Dropped() == 0 {
		t.Fatal("a full buffer dropped nothing: Record would block requests")
	}
}

func TestRecorderFlushesPeriodically(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	u, k := storetest.ID("u"), storetest.ID("k")
	now := time.Now()
	if err := st.Register(ctx, u, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "x", Now: now}); err != nil {
		t.Fatal(err)
	}
	r := activity.New(st, 10*time.Millisecond, nil)
	defer r.Close()
	r.Record(u, k, store.EventSaved, now)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ev, _ := st.Activity(ctx, u, k); len(ev) == 1 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the event was not written by the periodic flush")
}

// Restores alone wait ten intervals (each write costs SQLite's readers their
// page caches); any other event takes them along at the next interval.
func TestRecorderHoldsRestoresBack(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	u, k := storetest.ID("u"), storetest.ID("k")
	now := time.Now()
	if err := st.Register(ctx, u, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveBackup(ctx, store.SaveRequest{User: u, Key: k, Data: "x", Now: now}); err != nil {
		t.Fatal(err)
	}
	count := func(kind string) int64 {
		ev, err := st.Activity(ctx, u, k)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, e := range ev {
			if e.Kind == kind {
				n += e.Count
			}
		}
		return n
	}
	waitFor := func(kind string, want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); count(kind) != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d %s events recorded, want %d", count(kind), kind, want)
			}
		}
	}

	// A ticker never fires early: ten intervals of 100 ms take a second at
	// least, so whatever is written sooner was not held back.
	r := activity.New(st, 100*time.Millisecond, nil)
	defer r.Close()
	start := time.Now()
	r.Record(u, k, store.EventRestored, now)
	time.Sleep(300 * time.Millisecond)
	if n := count(store.EventRestored); n != 0 {
		t.Fatalf("a restore alone was written within %v", time.Since(start))
	}
	r.Record(u, k, store.EventSaved, now)
	waitFor(store.EventSaved, 1)
	if d := time.Since(start); d >= time.Second {
		t.Fatalf("a save's event took %v: it waited as restores do", d)
	}
	if n := count(store.EventRestored); n != 1 {
		t.Fatalf("the save's batch left the restore behind (%d written)", n)
	}

	r.Record(u, k, store.EventRestored, now)
	waitFor(store.EventRestored, 2) // restores alone are written in the end
}
