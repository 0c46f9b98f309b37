package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/storetest"
)

// TestRecoversFromOutage: while the database is away every call fails fast
// as ErrUnavailable; once it is back the same store serves again.
func TestRecoversFromOutage(t *testing.T) {
	p, proxied := pgtest.NewProxy(t, pgtest.DSN(t))
	const conns = 3
	s := open(t, proxied, Options{MaxConns: conns, ConnectTimeout: 2 * time.Second})

	user, key := storetest.ID("u"), storetest.ID("k")
	if err := s.Register(ctx, user, time.Now()); err != nil {
		t.Fatal(err)
	}
	save := func() error {
		_, err := s.SaveBackup(ctx, store.SaveRequest{User: user, Key: key, Data: "blob", Now: time.Now()})
		return err
	}
	calls := map[string]func() error{
		"ping": func() error { return s.Ping(ctx) },
		"get":  func() error { _, err := s.GetBackup(ctx, user, key, 0); return err },
		"save": save,
		"hit":  func() error { return s.Hit(ctx, "b", time.Hour, 1000, time.Now()) },
	}
	if err := save(); err != nil {
		t.Fatal(err)
	}

	p.Down()
	began := time.Now()
	for range 2 {
		for name, call := range calls {
			if err := call(); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s while the database is away: %v, want store.ErrUnavailable", name, err)
			}
		}
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("failing took %v", took)
	}

	// The failures above had the pool drop every connection from before.
	// database/sql opens connections in the background and may hand a dial
	// error from while the database was away to the next caller, so the
	// first call after the return may still fail; within seconds the store
	// must serve again, and then every call must succeed.
	p.Up()
	back := time.Now()
	for s.Ping(ctx) != nil {
		if time.Since(back) > 5*time.Second {
			t.Fatal("the store did not serve again within 5 s of the database's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 2 {
		for name, call := range calls {
			if err := call(); err != nil {
				t.Fatalf("%s after the database came back: %v", name, err)
			}
		}
	}
}
