package server

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// bindDashboardCleanup removes the raw rows that belong to users and backups
// an admin deletes in the dashboard (the store deletes its own explicitly).
func bindDashboardCleanup(app core.App) {
	app.OnRecordAfterDeleteSuccess("backups").BindFunc(func(e *core.RecordEvent) error {
		p := dbx.Params{"id": e.Record.Id, "user": e.Record.GetString("user_id"), "key": e.Record.GetString("storage_key")}
		for _, stmt := range []string{
			`DELETE FROM backup_versions WHERE backup_id = {:id}`,
			`DELETE FROM activity WHERE user_id = {:user} AND storage_key = {:key}`,
		} {
			if _, err := e.App.DB().NewQuery(stmt).Bind(p).Execute(); err != nil {
				return err
			}
		}
		return e.Next()
	})
	app.OnRecordAfterDeleteSuccess("users").BindFunc(func(e *core.RecordEvent) error {
		for _, stmt := range []string{
			`DELETE FROM activity WHERE user_id = {:user}`,
			`DELETE FROM sessions WHERE user_id = {:user}`,
			`DELETE FROM accounts WHERE user_id = {:user}`,
		} {
			if _, err := e.App.DB().NewQuery(stmt).Bind(dbx.Params{"user": e.Record.Id}).Execute(); err != nil {
				return err
			}
		}
		return e.Next()
	})
}
