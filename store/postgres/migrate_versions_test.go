package postgres

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/storetest"
)

var v1Columns = storetest.V1Columns{Created: "created_at", Updated: "updated_at", TimeArg: func(t time.Time) any { return t.UTC() }}

// v1Schema returns a schema migrated to the first layout only, as a server
// of that release left it, and a connection to it.
func v1Schema(t *testing.T) (string, *dbx.DB) {
	t.Helper()
	dsn := pgtest.DSN(t)
	sqlDB, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	if err := migrate(ctx, sqlDB, embeddedMigrations(t)[:1]); err != nil {
		t.Fatal(err)
	}
	return dsn, dbx.NewFromDB(sqlDB, "pgx")
}

func TestVersionsMigrationKeepsEveryVersion(t *testing.T) {
	pgtest.SkipIfUnset(t)
	dsn, db := v1Schema(t)
	f := storetest.WriteV1(t, db, v1Columns, 10)
	storetest.CheckV1(t, open(t, dsn, Options{}), f)
}

// A migration that fails midway (here on an old database whose history
// repeats its newest version, found only once the copy is done) leaves the
// old layout whole and usable; once the data is repaired it runs again.
func TestVersionsMigrationInterruptedLeavesOldData(t *testing.T) {
	pgtest.SkipIfUnset(t)
	dsn, db := v1Schema(t)
	f := storetest.WriteV1(t, db, v1Columns, 10)
	user, key := storetest.ID("v1-user-b"), storetest.ID("v1-key-b")
	bad := dbx.Params{"user": user, "key": key}
	if _, err := db.NewQuery(`INSERT INTO backup_history (storage_key, user_id, version, encrypted_data, size, updated)
		VALUES ({:key}, {:user}, 3, 'duplicate', 9, 0)`).Bind(bad).Execute(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, dsn, Options{}); err == nil || !strings.Contains(err.Error(), "0002_versions.sql") {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("open over a repeated version: %v, want the migration to fail", err)
	}

	var newest string
	if err := db.NewQuery(`SELECT encrypted_data FROM backups WHERE storage_key = {:key}`).Bind(bad).Row(&newest); err != nil {
		t.Fatal(err)
	}
	if want := f.Backups[[2]string{user, key}]; newest != want[len(want)-1].Data {
		t.Fatal("the newest blob changed")
	}
	var history, tables, applied int
	err := db.NewQuery(`SELECT (SELECT COUNT(*) FROM backup_history),
		(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'backup_versions'),
		(SELECT COUNT(*) FROM schema_migrations WHERE version = 2)`).Row(&history, &tables, &applied)
	if err != nil || history != 10+0+2+1 || tables != 0 || applied != 0 {
		t.Fatalf("after the failed migration: %d history rows, %d new tables, applied %d (%v)", history, tables, applied, err)
	}

	if _, err := db.NewQuery(`DELETE FROM backup_history WHERE encrypted_data = 'duplicate'`).Execute(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckV1(t, open(t, dsn, Options{}), f)
}
