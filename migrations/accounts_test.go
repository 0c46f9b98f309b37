package migrations_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/store/sqlite"
	"github.com/dailyreps/backup/store/storetest"
)

const accountsMigration = "1764100007_accounts.go"

// migrateBefore applies the app migrations older than file.
func migrateBefore(t *testing.T, app core.App, file string) {
	t.Helper()
	var list core.MigrationsList
	list.Copy(core.SystemMigrations)
	for _, m := range core.AppMigrations.Items() {
		if m.File < file {
			list.Add(m)
		}
	}
	if _, err := core.NewMigrationsRunner(app, list).Up(); err != nil {
		t.Fatal(err)
	}
}

// A database as the release before accounts left it (backups migrated from
// the first layout, and one written in the versions layout) keeps every
// backup: each version restores byte for byte, v1 saves go on, and each
// backup can be upgraded into an account.
func TestAccountsMigrationKeepsEveryBackup(t *testing.T) {
	app := v1App(t)
	f := storetest.WriteV1(t, app.DB(), v1Columns, 10)
	migrateBefore(t, app, accountsMigration)
	storetest.WriteCurrent(t, app.DB(), v1Columns, "currentbackup01", &f)
	ids := backupIDs(t, app)
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	if got := backupIDs(t, app); !slices.Equal(got, ids) {
		t.Fatalf("backup ids changed: %v -> %v", ids, got)
	}
	var unnamed int
	if err := app.DB().NewQuery(`SELECT COUNT(*) FROM backups WHERE name = '' AND legacy_key = ''`).Row(&unnamed); err != nil || unnamed != 4 {
		t.Fatalf("%d backups without a name or a legacy key, want 4 (%v)", unnamed, err)
	}
	s, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckV1(t, s, f)
	storetest.CheckUpgrade(t, s, f, [2]string{storetest.CurrentUser, storetest.CurrentKey},
		[2]string{storetest.ID("v1-user-b"), storetest.ID("v1-key-b")})
}

// The backups collection shows a v2 backup's name and keeps it unique per
// user.
func TestBackupsCollectionHasNames(t *testing.T) {
	app := v1App(t)
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	c, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"name", "legacy_key"} {
		if c.Fields.GetByName(name) == nil {
			t.Errorf("the backups collection lacks %s", name)
		}
	}
	if !slices.Contains(c.Indexes, "CREATE UNIQUE INDEX `idx_backups_user_name` ON `backups` (user_id, name) WHERE name != ''") {
		t.Errorf("indexes %v lack the unique (user_id, name)", c.Indexes)
	}
}

// An accounts migration that fails (here on a table of that name left
// behind by hand) changes nothing: no column added, the migration not
// recorded, every backup served; once the obstacle is gone it runs.
func TestAccountsMigrationInterruptedLeavesData(t *testing.T) {
	app := v1App(t)
	f := storetest.WriteV1(t, app.DB(), v1Columns, 10)
	migrateBefore(t, app, accountsMigration)
	if _, err := app.DB().NewQuery(`CREATE TABLE sessions (x TEXT)`).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err == nil || !strings.Contains(err.Error(), "sessions") {
		t.Fatalf("migration over an existing sessions table: %v, want a failure", err)
	}
	var columns, tables, applied int
	err := app.DB().NewQuery(`SELECT (SELECT COUNT(*) FROM pragma_table_info('backups') WHERE name IN ('name', 'legacy_key')),
		(SELECT COUNT(*) FROM sqlite_master WHERE name = 'accounts'),
		(SELECT COUNT(*) FROM _migrations WHERE file = {:file})`).Bind(dbx.Params{"file": accountsMigration}).Row(&columns, &tables, &applied)
	if err != nil || columns != 0 || tables != 0 || applied != 0 {
		t.Fatalf("after the failed migration: %d new columns, %d new tables, applied %d (%v)", columns, tables, applied, err)
	}
	if _, err := app.DB().NewQuery(`DROP TABLE sessions`).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	s, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckV1(t, s, f)
	storetest.CheckUpgrade(t, s, f, [2]string{storetest.ID("v1-user-b"), storetest.ID("v1-key-b")})
}
