package postgres

import (
	"strings"
	"testing"

	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/storetest"
)

// A database as the release before accounts left it (backups migrated from
// the first layout, and one written in the versions layout) keeps every
// backup: each version restores byte for byte, v1 saves go on, and each
// backup can be upgraded into an account.
func TestAccountsMigrationKeepsEveryBackup(t *testing.T) {
	pgtest.SkipIfUnset(t)
	dsn, db := v1Schema(t)
	f := storetest.WriteV1(t, db, v1Columns, 10)
	ms := embeddedMigrations(t)
	if ms[3].name != "0004_accounts.sql" {
		t.Fatalf("migration 4 is %s", ms[3].name)
	}
	if err := migrate(ctx, db.DB(), ms[:3]); err != nil {
		t.Fatal(err)
	}
	storetest.WriteCurrent(t, db, v1Columns, "current-backup-01", &f)
	s := open(t, dsn, Options{})
	var unnamed int
	if err := db.NewQuery(`SELECT COUNT(*) FROM backups WHERE name = '' AND legacy_key = ''`).Row(&unnamed); err != nil || unnamed != 4 {
		t.Fatalf("%d backups without a name or a legacy key, want 4 (%v)", unnamed, err)
	}
	storetest.CheckV1(t, s, f)
	storetest.CheckUpgrade(t, s, f, [2]string{storetest.CurrentUser, storetest.CurrentKey},
		[2]string{storetest.ID("v1-user-b"), storetest.ID("v1-key-b")})
}

// An accounts migration that fails (here on a table of that name left
// behind by hand) changes nothing, and runs once the obstacle is gone.
func TestAccountsMigrationInterruptedLeavesData(t *testing.T) {
	pgtest.SkipIfUnset(t)
	dsn, db := v1Schema(t)
	f := storetest.WriteV1(t, db, v1Columns, 10)
	if err := migrate(ctx, db.DB(), embeddedMigrations(t)[:3]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewQuery(`CREATE TABLE sessions (x TEXT)`).Execute(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, dsn, Options{}); err == nil || !strings.Contains(err.Error(), "0004_accounts.sql") {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("open over an existing sessions table: %v, want the migration to fail", err)
	}
	var columns, tables, applied int
	err := db.NewQuery(`SELECT
		(SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'backups'
			AND column_name IN ('name', 'legacy_key')),
		(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'accounts'),
		(SELECT COUNT(*) FROM schema_migrations WHERE version = 4)`).Row(&columns, &tables, &applied)
	if err != nil || columns != 0 || tables != 0 || applied != 0 {
		t.Fatalf("after the failed migration: %d new columns, %d new tables, applied %d (%v)", columns, tables, applied, err)
	}
	if _, err := db.NewQuery(`DROP TABLE sessions`).Execute(); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn, Options{})
	storetest.CheckV1(t, s, f)
	storetest.CheckUpgrade(t, s, f, [2]string{storetest.ID("v1-user-b"), storetest.ID("v1-key-b")})
}
