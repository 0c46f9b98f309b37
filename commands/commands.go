// Package commands adds the server's own cobra commands beside PocketBase's
// serve and superuser: stats, invite, rotate-pepper, health and client.
package commands

import (
	"context"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/clientcmd"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/store"
)

// Add registers the commands on app's root command.
func Add(app *pocketbase.PocketBase, cfg config.Config) {
	app.RootCmd.AddCommand(
		clientcmd.NewCommand(),
		newStatsCommand(app, cfg),
		newInviteCommand(app, cfg),
		newRotatePepperCommand(app, cfg),
		NewHealthCommand(),
	)
}

// openStore opens the configured store for a command. PocketBase applies the
// app's migrations only in serve and migrate; a command on a fresh data
// directory must apply them itself.
func openStore(ctx context.Context, app core.App, cfg config.Config) (store.Store, *pepper.Pepper, error) {
	if err := app.RunAllMigrations(); err != nil {
		return nil, nil, err
	}
	return server.OpenStore(ctx, app, cfg)
}
