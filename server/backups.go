package server

import (
	"fmt"
	"log/slog"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// PocketBase's scheduled backups of the data directory are off until someone
// sets a schedule in the dashboard. They are the one copy of the SQLite data
// an operator gets without doing anything, so the first serve turns them on.
const (
	DefaultBackupCron    = "0 3 * * *" // daily at 03:00 UTC
	DefaultBackupMaxKeep = 7

	// backupDefaultsParam marks, in PocketBase's _params table, that the
	// defaults were considered once. From then on the schedule is the
	// operator's, even when they turn it off.
	backupDefaultsParam = "dailyreps_backup_defaults"
)

// applyBackupDefaults turns scheduled backups on at the first serve of a data
// directory, unless a schedule was already set (an upgrade from a version
// without this default keeps the operator's choice).
func applyBackupDefaults(app core.App, logger func() *slog.Logger) error {
	var marked int
	err := app.DB().Select("COUNT(*)").From("_params").Where(dbx.HashExp{"id": backupDefaultsParam}).Row(&marked)
	if err != nil || marked > 0 {
		return err
	}
	turnedOn := false
	err = app.RunInTransaction(func(tx core.App) error {
		settings, err := tx.Settings().Clone()
		if err != nil {
			return err
		}
		if settings.Backups.Cron == "" {
			settings.Backups.Cron = DefaultBackupCron
			settings.Backups.CronMaxKeep = DefaultBackupMaxKeep
			if settings.Meta.AppName == "Acme" { // PocketBase's placeholder names the archives
				settings.Meta.AppName = "DailyReps Backup"
			}
			if err := tx.Save(settings); err != nil {
				return err
			}
			turnedOn = true
		}
		marker := &core.Param{Value: types.JSONRaw(`{"applied":true}`)}
		marker.Id = backupDefaultsParam
		return tx.Save(marker)
	})
	if err != nil {
		return fmt.Errorf("turning on scheduled backups: %w", err)
	}
	if turnedOn {
		logger().Info("scheduled backups turned on: daily at 03:00 UTC, the last 7 kept in pb_data/backups " +
			"(change or turn off in the dashboard: Settings > Backups)")
	}
	return nil
}
