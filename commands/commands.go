// Package commands adds the server's own cobra commands beside PocketBase's
// serve and superuser.
package commands

import (
	"github.com/pocketbase/pocketbase"

	"github.com/dailyreps/backup/config"
)

// Add registers the commands on app's root command.
func Add(app *pocketbase.PocketBase, cfg config.Config) {
	_ = cfg
}
