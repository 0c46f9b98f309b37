package server_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/sqlite"
)

// The first serve neither opens a browser nor creates PocketBase's
// placeholder admin: Register turns the installer off, so the first admin is
// the one the operator creates with `superuser upsert`.
func TestFirstServeHasNoInstaller(t *testing.T) {
	// A plain app: PocketBase's test app turns the installer off itself.
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Pepper = [][]byte{servertest.TestPepper}
	if servertest.Postgres() {
		cfg.DatabaseURL = pgtest.DSN(t)
	}
	server.Register(app, cfg, server.Options{})

	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	// As apis.Serve triggers it, installer included.
	se := &core.ServeEvent{App: app, Router: r, Server: &http.Server{}, InstallerFunc: apis.DefaultInstallerFunc}
	if err := app.OnServe().Trigger(se, func(*core.ServeEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	defer app.OnTerminate().Trigger(&core.TerminateEvent{App: app}, func(e *core.TerminateEvent) error {
		return e.App.ClearBootstrap()
	})
	if se.InstallerFunc != nil {
		t.Fatal("the installer is still on: the first serve would create a placeholder admin and open a browser")
	}
}
