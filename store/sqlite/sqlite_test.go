package sqlite_test

import (
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

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
	s, err := sqlite.New(app, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestSynchronousFull(t *testing.T) {
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	var data, aux int
	if err := app.NonconcurrentDB().NewQuery("PRAGMA synchronous").Row(&data); err != nil {
		t.Fatal(err)
	}
	if err := app.AuxNonconcurrentDB().NewQuery("PRAGMA synchronous").Row(&aux); err != nil {
		t.Fatal(err)
	}
	// 2 is FULL, 1 is NORMAL.
	if data != 2 || aux != 1 {
		t.Fatalf("synchronous: data.db %d, auxiliary.db %d; want 2 and 1", data, aux)
	}
	// data.db's page caches are SQLite's default, 2 MB, for readers and
	// writer alike (see DBConnect); the logs keep PocketBase's 32 MB.
	for _, c := range []struct {
		name string
		db   interface {
			NewQuery(string) *dbx.Query
		}
		want int
	}{{"data.db's writer", app.NonconcurrentDB(), -2000}, {"data.db's readers", app.ConcurrentDB(), -2000},
		{"auxiliary.db", app.AuxNonconcurrentDB(), -32000}} {
		var got int
		if err := c.db.NewQuery("PRAGMA cache_size").Row(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: cache_size %d, want %d", c.name, got, c.want)
		}
	}
}
