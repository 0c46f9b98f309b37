package commands

import (
	"bytes"
	"context"
	"testing"

	"github.com/pocketbase/pocketbase"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/store/sqlite"
)

// runCommand runs args through a fresh app's root command, as the binary
// does, on dataDir, and releases the app's databases afterwards.
func runCommand(t *testing.T, dataDir string, cfg config.Config, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDataDir: dataDir, DBConnect: sqlite.DBConnect})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := app.ClearBootstrap(); err != nil {
			t.Error(err)
		}
	}()
	Add(app, cfg)
	var out, notes bytes.Buffer
	app.RootCmd.SetOut(&out)
	app.RootCmd.SetErr(&notes)
	// Commands that print notes for the operator set their own error
	// output (PocketBase discards the root's); the leaf's wins.
	if leaf, _, err := app.RootCmd.Find(args); err == nil {
		leaf.SetErr(&notes)
	}
	app.RootCmd.SetArgs(args)
	err = app.RootCmd.ExecuteContext(context.Background())
	return out.String(), notes.String(), err
}
