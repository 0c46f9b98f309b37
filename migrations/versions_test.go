package migrations_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/dailyreps/backup/migrations"
	"github.com/dailyreps/backup/store/sqlite"
	"github.com/dailyreps/backup/store/sqlstore"
	"github.com/dailyreps/backup/store/storetest"
)

const versionsMigration = "1764100002_versions.go"

// v1App is an app whose database has only the migrations released before
// the versions layout, as a server of that release left it.
func v1App(t *testing.T) core.App {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.ClearBootstrap() })
	var list core.MigrationsList
	list.Copy(core.SystemMigrations)
	for _, m := range core.AppMigrations.Items() {
		if m.File < versionsMigration {
			list.Add(m)
		}
	}
	if _, err := core.NewMigrationsRunner(app, list).Up(); err != nil {
		t.Fatal(err)
	}
	return app
}

var v1Columns = storetest.V1Columns{Created: "created", Updated: "updated", TimeArg: sqlstore.PBTime}

func backupIDs(t *testing.T, app core.App) []string {
	t.Helper()
	var ids []string
	if err := app.DB().NewQuery(`SELECT id || ' ' || user_id || ' ' || storage_key FROM backups ORDER BY id`).Column(&ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestVersionsMigrationKeepsEveryVersion(t *testing.T) {
	app := v1App(t)
	f := storetest.WriteV1(t, app.DB(), v1Columns, 10)
	ids := backupIDs(t, app)
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	if got := backupIDs(t, app); !slices.Equal(got, ids) {
		t.Fatalf("backup ids changed: %v -> %v", ids, got)
	}
	s, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckV1(t, s, f)
}

// The dashboard lists backups with their metadata, and never a blob.
func TestBackupsCollectionHoldsNoBlob(t *testing.T) {
	app := v1App(t)
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	c, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"id", "storage_key", "user_id", "version", "size", "created", "updated"} {
		if c.Fields.GetByName(name) == nil {
			t.Errorf("the backups collection lacks %s", name)
		}
	}
	var cols []string
	if err := app.DB().NewQuery(`SELECT name FROM pragma_table_info('backups')`).Column(&cols); err != nil {
		t.Fatal(err)
	}
	for _, col := range cols {
		if f := c.Fields.GetByName(col); f == nil || strings.Contains(col, "data") {
			t.Errorf("backups table column %s: field %v", col, f)
		}
	}
	if !slices.Contains(c.Indexes, "CREATE UNIQUE INDEX `idx_backups_user_key` ON `backups` (user_id, storage_key)") {
		t.Errorf("indexes %v lack the unique (user_id, storage_key)", c.Indexes)
	}
}

// A migration that fails midway (here on an old database whose history
// repeats its newest version, found only once the copy is done) leaves the
// old layout whole and usable; once the data is repaired it runs again.
func TestVersionsMigrationInterruptedLeavesOldData(t *testing.T) {
	app := v1App(t)
	f := storetest.WriteV1(t, app.DB(), v1Columns, 10)
	user, key := storetest.ID("v1-user-b"), storetest.ID("v1-key-b")
	bad := dbx.Params{"user": user, "key": key}
	if _, err := app.DB().NewQuery(`INSERT INTO backup_history (storage_key, user_id, version, encrypted_data, size, updated)
		VALUES ({:key}, {:user}, 3, 'duplicate', 9, 0)`).Bind(bad).Execute(); err != nil {
		t.Fatal(err)
	}
	err := app.RunAllMigrations()
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("migration over a repeated version: %v, want a UNIQUE failure", err)
	}

	// The old layout is intact: the newest blob, the history, no new table,
	// the migration not recorded.
	var newest string
	if err := app.DB().NewQuery(`SELECT encrypted_data FROM backups WHERE storage_key = {:key}`).Bind(bad).Row(&newest); err != nil {
		t.Fatal(err)
	}
	if want := f.Backups[[2]string{user, key}]; newest != want[len(want)-1].Data {
		t.Fatal("the newest blob changed")
	}
	var history, tables, applied int
	err = app.DB().NewQuery(`SELECT (SELECT COUNT(*) FROM backup_history),
		(SELECT COUNT(*) FROM sqlite_master WHERE name = 'backup_versions'),
		(SELECT COUNT(*) FROM _migrations WHERE file = {:file})`).Bind(dbx.Params{"file": versionsMigration}).Row(&history, &tables, &applied)
	if err != nil || history != 10+0+2+1 || tables != 0 || applied != 0 {
		t.Fatalf("after the failed migration: %d history rows, %d new tables, applied %d (%v)", history, tables, applied, err)
	}
	if c, err := app.FindCollectionByNameOrId("backups"); err != nil || c.Fields.GetByName("encrypted_data") == nil {
		t.Fatalf("the backups collection changed: %v", err)
	}

	if _, err := app.DB().NewQuery(`DELETE FROM backup_history WHERE encrypted_data = 'duplicate'`).Execute(); err != nil {
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
}
