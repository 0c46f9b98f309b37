// Package sqlite is the default backend: the users and backups collections
// (and the raw tables beside them) in PocketBase's own SQLite database.
package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/sqlstore"
)

// SQLite result codes the store maps (the low byte of extended codes).
const (
	codeBusy     = 5
	codeLocked   = 6
	codeReadonly = 8
	codeIOErr    = 10
	codeFull     = 13
	codeCantOpen = 14
)

var dialect = sqlstore.Dialect{
	Created:  "created",
	Updated:  "updated",
	TimeArg:  sqlstore.PBTime,
	Classify: classify,
}

// New returns the store over app's database. The app must be bootstrapped
// and migrated.
func New(app core.App, timeout time.Duration) (*sqlstore.Store, error) {
	write, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return nil, errors.New("sqlite store: the app's write database is not a *dbx.DB (is it inside a transaction?)")
	}
	return sqlstore.New(app.ConcurrentDB(), write, dialect, timeout, nil), nil
}

// ReadConns is how many connections read data.db at once: PocketBase's
// DataMaxOpenConns, with as many kept idle (its defaults are 120 and 15). A
// read runs on the CPU in this process (its pages come from SQLite's cache or
// the OS's), so more readers than two per core only contend, for the
// driver's allocator, whose lock every read of a large value takes, and for
// the processors. With PocketBase's defaults the slowest 1% of 100 KB
// restores took 1.5 times the reference's; with these, 1.1 times
// (BENCHMARKS.md, run 5). Readers past it wait for a connection in Go.
func ReadConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// DBConnect opens PocketBase's databases with its own pragmas, except that
// data.db, which holds the backups, syncs every commit (synchronous=FULL): a
// 200 on save must survive a power cut, which NORMAL does not promise in WAL
// mode. The logs database keeps NORMAL.
//
// data.db's connections also keep SQLite's default page cache (2 MB) rather
// than PocketBase's 32 MB: the writer's cache fills with the pages of the
// blobs it writes, which are never read through it again (a reader reads a
// blob's overflow pages straight from the file, and drops its own cache
// whenever another connection has written), so with 5 MB uploads in flight
// the larger caches held 55 MB of the server's memory and sped nothing up
// (BENCHMARKS.md, "Uploads' memory").
func DBConnect(dbPath string) (*dbx.DB, error) {
	sync, cache := "NORMAL", "-32000"
	if filepath.Base(dbPath) == "data.db" {
		sync, cache = dataSynchronous, "-2000"
	}
	// Same order and pragmas as core.DefaultDBConnect: busy_timeout first so
	// the connection blocks on busy before WAL mode is set.
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(" + sync + ")&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)" +
		"&_pragma=cache_size(" + cache + ")&_defensive=1"
	return dbx.Open("sqlite", dbPath+pragmas)
}

func classify(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case codeFull:
			return fmt.Errorf("%w: %w", store.ErrNoSpace, err)
		case codeBusy, codeLocked, codeReadonly, codeIOErr, codeCantOpen:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	if strings.Contains(err.Error(), "database or disk is full") {
		return fmt.Errorf("%w: %w", store.ErrNoSpace, err)
	}
	return err
}
