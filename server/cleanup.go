package server

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// bindDashboardCleanup removes the raw rows that belong to users and backups
// an admin deletes in the dashboard (the store deletes its own explicitly).
func bindDashboardCleanup(app core.App) {
	app.OnRecordAfterDeleteSuccess("backups").BindFunc(func(e *core.RecordEvent) error {
		key := e.Record.GetString("storage_key")
		for _, stmt := range []string{
			`DELETE FROM backup_history WHERE storage_key = {:key}`,
			`DELETE FROM activity WHERE storage_key = {:key}`,
		} {
			if _, err := e.App.DB().NewQuery(stmt).Bind(dbx.Params{"key": key}).Execute(); err != nil {
				return err
			}
		}
		return e.Next()
	})
	app.OnRecordAfterDeleteSuccess("users").BindFunc(func(e *core.RecordEvent) error {
		_, err := e.App.DB().NewQuery(`DELETE FROM activity WHERE user_id = {:user}`).
			Bind(dbx.Params{"user": e.Record.Id}).Execute()
		if err != nil {
			return err
		}
		return e.Next()
	})
}
