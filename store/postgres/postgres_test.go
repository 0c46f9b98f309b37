package postgres

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/sqlstore"
	"github.com/dailyreps/backup/store/storetest"
)

var ctx = context.Background()

// open opens a store on dsn that closes when t ends.
func open(t *testing.T, dsn string, opts Options) *sqlstore.Store {
	t.Helper()
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// inspect connects to dsn's schema outside any store's pool. It shares the
// store's application_name but never its pid.
func inspect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func appNameOf(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RuntimeParams["application_name"]
}

func embeddedMigrations(t *testing.T) []migration {
	t.Helper()
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestConformance(t *testing.T) {
	pgtest.SkipIfUnset(t)
	// A small pool per store: the suite runs its stores in parallel, beside
	// other packages' tests, against one server's max_connections.
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t), Options{MaxConns: 4}) })
}

type appliedRow struct {
	version int64
	at      time.Time
}

func appliedRows(t *testing.T, conn *pgx.Conn) []appliedRow {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (appliedRow, error) {
		var a appliedRow
		return a, r.Scan(&a.version, &a.at)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func expectAllApplied(t *testing.T, got []appliedRow) {
	t.Helper()
	want := embeddedMigrations(t)
	if len(got) != len(want) {
		t.Fatalf("schema_migrations has %d rows, want %d", len(got), len(want))
	}
	for i, m := range want {
		if got[i].version != m.version {
			t.Fatalf("schema_migrations row %d is version %d, want %d", i, got[i].version, m.version)
		}
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	first, err := Open(ctx, dsn, Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	conn := inspect(t, dsn)
	before := appliedRows(t, conn)
	expectAllApplied(t, before)

	s := open(t, dsn, Options{MaxConns: 2})
	after := appliedRows(t, conn)
	expectAllApplied(t, after)
	for i := range after {
		if !after[i].at.Equal(before[i].at) {
			t.Fatalf("version %d applied again at the second open", after[i].version)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 4
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(ctx, dsn, Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	expectAllApplied(t, appliedRows(t, inspect(t, dsn)))
}

// TestFailedMigration: a failing file leaves nothing of itself behind, the
// lock is released, and a fixed file applies on the next start.
func TestFailedMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := connConfig(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	conn := inspect(t, dsn)

	ms := []migration{
		{version: 1, name: "0001_a.sql", sql: `CREATE TABLE a (x INT)`},
		{version: 2, name: "0002_b.sql", sql: `CREATE TABLE b (x INT); SELECT no_such_column FROM a`},
	}
	err = migrate(ctx, db, ms)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("err = %v, want the failing file named", err)
	}
	var b *string
	if err := conn.QueryRow(ctx, `SELECT to_regclass('b')::text`).Scan(&b); err != nil || b != nil {
		t.Fatalf("table b = %v, %v: the failed migration was not rolled back", b, err)
	}
	if rows := appliedRows(t, conn); len(rows) != 1 || rows[0].version != 1 {
		t.Fatalf("applied = %+v, want version 1 only", rows)
	}
	expectNoMigrationLock(t, conn, appNameOf(t, dsn))

	ms[1].sql = `CREATE TABLE b (x INT)`
	if err := migrate(ctx, db, ms); err != nil {
		t.Fatal(err)
	}
	if rows := appliedRows(t, conn); len(rows) != 2 {
		t.Fatalf("applied = %+v, want versions 1 and 2", rows)
	}
	expectNoMigrationLock(t, conn, appNameOf(t, dsn))
}

// TestOpenRefusesClashingSchema: a schema that is not the store's makes Open
// fail, naming the migration, rather than start on tables it does not know.
func TestOpenRefusesClashingSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	if _, err := inspect(t, dsn).Exec(ctx, `CREATE TABLE users (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn, Options{MaxConns: 1})
	if err == nil || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("err = %v, want the failing migration named", err)
	}
}

// TestCanceledMigration: a run cut short still gives the lock up, even though
// the connection cannot say so, because the connection is closed.
func TestCanceledMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := connConfig(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = migrate(short, db, []migration{{version: 1, name: "0001_slow.sql", sql: `SELECT pg_sleep(1)`}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	conn := inspect(t, dsn)
	// The server lets go once the backend notices that its client is gone.
	waitFor(t, 10*time.Second, func() bool { return migrationLocks(t, conn, appNameOf(t, dsn)) == 0 })
	if err := migrate(ctx, db, []migration{{version: 1, name: "0001_fast.sql", sql: `SELECT 1`}}); err != nil {
		t.Fatal(err)
	}
}

func migrationLocks(t *testing.T, conn *pgx.Conn, app string) int {
	t.Helper()
	var n int
	err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1
		AND l.classid::bigint = $2 AND l.objid::bigint = $3 AND l.objsubid = 1`,
		app, migrationLock>>32, migrationLock&0xffffffff).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func expectNoMigrationLock(t *testing.T, conn *pgx.Conn, app string) {
	t.Helper()
	if n := migrationLocks(t, conn, app); n != 0 {
		t.Fatalf("%d sessions still hold the migration lock", n)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecoversFromLostConnections terminates every backend of a store, as a
// server restart or failover would, and expects the store to heal by itself:
// at most one call fails, as ErrUnavailable, however many connections were
// lost, and calls succeed again without reopening the store.
func TestRecoversFromLostConnections(t *testing.T) {
	pgtest.SkipIfUnset(t)
	for _, c := range []struct {
		name  string
		conns int
	}{{"OneConnection", 1}, {"FourConnections", 4}} {
		t.Run(c.name, func(t *testing.T) {
			conns := c.conns
			dsn := pgtest.DSN(t)
			s := open(t, dsn, Options{MaxConns: conns})
			admin := inspect(t, dsn)
			app := appNameOf(t, dsn)
			user := storetest.ID("u")
			if err := s.Register(ctx, user, time.Now()); err != nil {
				t.Fatal(err)
			}
			// Saves of one user queue on its row, each holding a connection,
			// so the whole pool is likely in use and then idle.
			var wg sync.WaitGroup
			for i := range 2 * conns {
				wg.Go(func() {
					req := store.SaveRequest{User: user, Key: storetest.ID("k"), Data: strings.Repeat("x", 1000+i), Now: time.Now()}
					if _, err := s.SaveBackup(ctx, req); err != nil {
						t.Errorf("save: %v", err)
					}
				})
			}
			wg.Wait()

			var killed int
			err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&killed)
			if err != nil || killed == 0 {
				t.Fatalf("terminated %d backends, %v", killed, err)
			}
			waitFor(t, 10*time.Second, func() bool {
				var left int
				err := admin.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity
					WHERE pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&left)
				return err == nil && left == 0
			})

			// Reads and transactions alternate: they fail in different places.
			calls := []func() error{
				func() error { return s.Ping(ctx) },
				func() error {
					return s.UseNonce(ctx, storetest.ID(time.Now().String()), time.Now().Add(time.Hour), time.Now())
				},
			}
			for failed := 0; ; failed++ {
				err := calls[failed%2]()
				if err == nil {
					t.Logf("%d lost connections, %d failed calls", killed, failed)
					break
				}
				t.Logf("during recovery: %v", err)
				if !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("during recovery: %v, want store.ErrUnavailable", err)
				}
				// The first failure has the pool check the other
				// connections before use, so one call pays for them all.
				if failed >= 1 {
					t.Fatalf("still failing after %d calls for %d lost connections", failed+1, killed)
				}
			}
			for i := range 2 * conns {
				if err := s.Ping(ctx); err != nil {
					t.Fatalf("ping %d after recovery: %v", i, err)
				}
				if _, err := s.GetBackup(ctx, user, storetest.ID("k"), 0); err != nil {
					t.Fatalf("get %d after recovery: %v", i, err)
				}
			}
			if err := s.Register(ctx, storetest.ID("after"), time.Now()); err != nil {
				t.Fatalf("a transaction after recovery: %v", err)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = Open(ctx, "postgres://nobody@"+addr+"/none?sslmode=disable", Options{})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("err = %v, want store.ErrUnavailable", err)
		}
	})
	t.Run("Silent", func(t *testing.T) {
		// A server that accepts and never answers: only the connect
		// timeout ends the wait.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var held []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range held {
				c.Close()
			}
		}()
		began := time.Now()
		_, err = Open(ctx, "postgres://nobody@"+l.Addr().String()+"/none?sslmode=disable",
			Options{ConnectTimeout: 300 * time.Millisecond})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("err = %v, want store.ErrUnavailable", err)
		}
		if waited := time.Since(began); waited > 5*time.Second {
			t.Fatalf("gave up after %v with a 300ms connect timeout", waited)
		}
	})
}

func TestInvalidDSN(t *testing.T) {
	_, err := Open(ctx, "postgres://u:secret@host:notaport/db", Options{})
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want a configuration error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

func TestQueryTimeout(t *testing.T) {
	s := open(t, pgtest.DSN(t), Options{MaxConns: 1, QueryTimeout: time.Nanosecond})
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want store.ErrUnavailable from the deadline", err)
	}
}

func TestConnConfig(t *testing.T) {
	// The environment must not fill in what the test leaves out.
	t.Setenv("PGCONNECT_TIMEOUT", "")
	t.Setenv("PGAPPNAME", "")
	for _, c := range []struct {
		dsn     string
		opts    Options
		timeout time.Duration
		app     string
		tls     bool
	}{
		{"postgres://u@h/db?sslmode=disable", Options{}, defaultConnectTimeout, appName, false},
		{"postgres://u@h/db?sslmode=disable", Options{ConnectTimeout: 3 * time.Second}, 3 * time.Second, appName, false},
		{"postgres://u@h/db?sslmode=require&connect_timeout=7&application_name=mine", Options{ConnectTimeout: 3 * time.Second},
			7 * time.Second, "mine", true},
		{"postgres://u@h/db?sslmode=disable&connect_timeout=0", Options{ConnectTimeout: 3 * time.Second}, 3 * time.Second, appName, false},
		{"host=h user=u sslmode=disable connect_timeout=9 application_name=kw", Options{ConnectTimeout: 3 * time.Second},
			9 * time.Second, "kw", false},
		{"host=h user=u sslmode=verify-full", Options{}, defaultConnectTimeout, appName, true},
	} {
		cfg, err := connConfig(c.dsn, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.dsn, err)
		}
		if cfg.ConnectTimeout != c.timeout || cfg.RuntimeParams["application_name"] != c.app || (cfg.TLSConfig != nil) != c.tls {
			t.Errorf("%s: timeout %v, application_name %q, TLS %v; want %v, %q, %v", c.dsn,
				cfg.ConnectTimeout, cfg.RuntimeParams["application_name"], cfg.TLSConfig != nil, c.timeout, c.app, c.tls)
		}
	}
}
