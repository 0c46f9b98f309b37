package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/store/postgres/pgtest"
)

// TestPostgresOutage takes PostgreSQL away from a serving process, as a
// restart or a network cut does, twice: meanwhile every request that needs
// the database gets 503 in the API's error shape, with nothing of the
// database in it, and /health says 503; once the database is back the same
// process serves again, without a restart, and nothing was lost or written.
func TestPostgresOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	proxy, proxied := pgtest.NewProxy(t, dsn)
	p := start(t, "", "DAILYREPS_DATABASE_URL="+proxied, "DAILYREPS_IP_BURST=100000")

	user, key := hexID("outage-user"), hexID("outage-key")
	p.expect(t, registerRequest(user, nil), http.StatusOK)
	saved := sealedData("before any outage")
	p.expect(t, saveRequest(user, key, saved, nil), http.StatusOK)
	version := int64(1)
	// What the answers must not carry: SQL, driver words, the schema and
	// where the database is.
	internals := []string{"select", "insert", "update ", "delete from", "sqlstate", "pgx", "pgconn", "postgres",
		"dial", "refused", "eof", "tcp", applicationName(t, dsn), proxy.Addr()}

	for round := 1; round <= 2; round++ {
		before := pgSnapshot(t, dsn)
		proxy.Down()
		for _, r := range []apiRequest{
			{method: "GET", path: "/health"},
			registerRequest(hexID(fmt.Sprint("newcomer ", round)), nil),
			saveRequest(user, key, sealedData(fmt.Sprint("during outage ", round)), nil),
			getRequest("/api/backup", user, key, nil),
			getRequest("/api/backup/versions", user, key, nil),
			getRequest("/api/backup/activity", user, key, nil),
			getRequest("/api/usage", user, key, nil),
			{method: "DELETE", path: "/api/user", body: map[string]string{"userId": user, "storageKey": key}},
		} {
			resp := p.expect(t, r, http.StatusServiceUnavailable)
			lower := strings.ToLower(string(resp.body))
			for _, word := range internals {
				if strings.Contains(lower, strings.ToLower(word)) {
					t.Errorf("%s %s during the outage answered %s, which shows %q", r.method, r.path, resp.body, word)
				}
			}
		}
		// What needs no database still works.
		p.expect(t, apiRequest{method: "GET", path: "/api/info"}, http.StatusOK)
		pgUnchanged(t, dsn, before)

		proxy.Up()
		waitReady(t, p, 20*time.Second)
		expectBackup(t, p, user, key, nil, saved, version)
		saved = sealedData(fmt.Sprint("after outage ", round))
		p.expect(t, saveRequest(user, key, saved, nil), http.StatusOK)
		version++
		expectBackup(t, p, user, key, nil, saved, version)
	}
}

// TestPostgresHoldsItsLocks: a database that keeps every save waiting (here
// a lock held on the users' rows, as a long migration or a stuck session
// would) costs this instance at most DAILYREPS_DB_MAX_CONNS connections, and
// each request gives up after DAILYREPS_DB_QUERY_TIMEOUT with a 503 rather
// than hanging; the DSN's application_name names those connections.
func TestPostgresHoldsItsLocks(t *testing.T) {
	dsn := pgtest.DSN(t)
	app := applicationName(t, dsn) + "_pool"
	const maxConns = 2
	p := start(t, "",
		"DAILYREPS_DATABASE_URL="+withParams(t, dsn, map[string]string{"application_name": app}),
		fmt.Sprint("DAILYREPS_DB_MAX_CONNS=", maxConns), "DAILYREPS_DB_QUERY_TIMEOUT=2s",
		"DAILYREPS_IP_BURST=100000", "DAILYREPS_SAVES_PER_HOUR=0", "DAILYREPS_SAVES_PER_DAY=0")
	user, key := hexID("patient-user"), hexID("patient-key")
	p.expect(t, registerRequest(user, nil), http.StatusOK)
	saved := sealedData("before the lock")
	p.expect(t, saveRequest(user, key, saved, nil), http.StatusOK)

	ctx := context.Background()
	locker := pgConnect(t, dsn)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM users FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	before := pgSnapshot(t, dsn)

	// Saves of one user queue on its row, each on a connection of its own
	// while the pool allows one, so more saves than connections fill it.
	const saves = 3 * maxConns
	statuses := make([]int, saves)
	var wg sync.WaitGroup
	for i := range saves {
		wg.Go(func() {
			statuses[i] = p.send(t, saveRequest(user, key, sealedData(fmt.Sprint("queued ", i)), nil)).status
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	watcher := pgConnect(t, dsn)
	// database/sql never holds more than maxConns connections, but a backend
	// whose connection the pool has just closed (its save timed out) is still
	// listed for a moment while it exits, beside the one that replaces it. An
	// excess counts when two samples in a row show it.
	mostOpen, mostWaiting, lastOpen := 0, 0, 0
	for watching := true; watching; {
		select {
		case <-done:
			watching = false
		case <-time.After(20 * time.Millisecond):
		}
		var open, waiting int
		err := watcher.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE wait_event_type = 'Lock')
			FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&open, &waiting)
		if err != nil {
			t.Fatal(err)
		}
		mostOpen, mostWaiting = max(mostOpen, min(open, lastOpen)), max(mostWaiting, waiting)
		lastOpen = open
	}
	if mostWaiting == 0 || mostOpen > maxConns {
		t.Fatalf("at most %d connections open and %d waiting on the lock; want some waiting, and %d open at most",
			mostOpen, mostWaiting, maxConns)
	}
	t.Logf("at most %d connections open, %d waiting on the lock", mostOpen, mostWaiting)
	for i, s := range statuses {
		if s != http.StatusServiceUnavailable {
			t.Errorf("save %d behind the lock: %d, want 503", i, s)
		}
	}
	pgUnchanged(t, dsn, before)

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	expectBackup(t, p, user, key, nil, saved, 1)
	p.expect(t, saveRequest(user, key, sealedData("after the lock"), nil), http.StatusOK)
}
