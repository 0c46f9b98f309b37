package commands

import (
	"errors"

	"github.com/pocketbase/pocketbase"
	"github.com/spf13/cobra"

	"github.com/dailyreps/backup/config"
)

// Placeholder until the command lands; the owner replaces this file.
func newStatsCommand(app *pocketbase.PocketBase, cfg config.Config) *cobra.Command {
	return &cobra.Command{Use: "stats", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("not available yet")
	}}
}

var _ = pocketbase.New
var _ config.Config
