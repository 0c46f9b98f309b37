package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/storetest"
)

// codeQueryCanceled is what the server answers when statement_timeout ends
// a statement.
const codeQueryCanceled = "57014"

// TestDSNSettingsReachEveryConnection: server settings given in the DSN (a
// statement_timeout through options, an application_name) apply to each
// connection the pool opens, not only to the first one.
func TestDSNSettingsReachEveryConnection(t *testing.T) {
	base := pgtest.DSN(t)
	app := appNameOf(t, base) + "_settings"
	dsn, err := pgtest.WithParams(base, map[string]string{
		"application_name": app,
		"options":          "-c statement_timeout=1000",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The query timeout is a backstop far above the statement timeout: a
	// deadline instead of the server's own cancel means the setting was lost.
	const conns = 2
	s := open(t, dsn, Options{MaxConns: conns, QueryTimeout: 30 * time.Second})
	user := storetest.ID("u")
	if err := s.Register(ctx, user, time.Now()); err != nil {
		t.Fatal(err)
	}

	// Holding the user's row makes each save wait inside the server, on a
	// connection of its own, until something gives up.
	tx, err := inspect(t, base).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM users FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			_, errs[i] = s.SaveBackup(ctx, store.SaveRequest{User: user, Key: storetest.ID("k"), Data: "blob", Now: time.Now()})
		})
	}
	wg.Wait()
	for i, err := range errs {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != codeQueryCanceled || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("save %d: %v; want the server's statement timeout (%s) as store.ErrUnavailable", i, err, codeQueryCanceled)
		}
	}
	// Each save held its connection for the whole wait, so the pool had to
	// open a second one, named as the DSN says.
	var named int
	err = inspect(t, base).QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&named)
	if err != nil || named != conns {
		t.Fatalf("%d connections named %s (%v), want %d", named, app, err, conns)
	}
}

// TestQueryTimeoutEndsWaitingTransactions: the query timeout bounds each
// statement inside a transaction too, such as a save queued behind a lock
// that is never released; the server does not time it out by itself.
func TestQueryTimeoutEndsWaitingTransactions(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, Options{MaxConns: 1, QueryTimeout: 500 * time.Millisecond})
	user := storetest.ID("u")
	if err := s.Register(ctx, user, time.Now()); err != nil {
		t.Fatal(err)
	}
	tx, err := inspect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM users FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.SaveBackup(ctx, store.SaveRequest{User: user, Key: storetest.ID("k"), Data: "blob", Now: time.Now()})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want store.ErrUnavailable from the deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the save still waits for the lock, long past its query timeout")
	}
	// The lock is still held: the store gave up, the row did not move.
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after the timeout: %v", err)
	}
}
