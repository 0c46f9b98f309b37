package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(upStatsCollection, downStatsCollection, "1764100006_stats_collection.go")
}

// The stats collection shows the usage figures in the dashboard. Its table
// stays empty: the server answers its records from the store (see
// server/dashboard.go), on SQLite and PostgreSQL alike, so the figures are
// always current and read-only.
//
// The backups' data is hidden from the dashboard's columns and search box
// (a search would otherwise scan every blob). The dashboard's listing sorts
// by created or updated and reads metadata only; two covering indexes let
// SQLite answer it without walking the rows, whose metadata columns sit
// after the data in the record (reading them would read the data's
// overflow pages: seconds for 40 backups of 5 MB).
func upStatsCollection(app core.App) error {
	stats := core.NewBaseCollection("stats", "dr_stats")
	stats.Fields.RemoveByName("id")
	stats.Fields.Add(
		&core.TextField{Name: "id", System: true, PrimaryKey: true, Required: true, Max: 100, Pattern: "^[a-z0-9_]+$"},
		&core.NumberField{Name: "value"},
		&core.TextField{Name: "about"},
	)
	stats.ListRule, stats.ViewRule, stats.CreateRule, stats.UpdateRule, stats.DeleteRule = nil, nil, nil, nil, nil
	if err := app.Save(stats); err != nil {
		return err
	}
	backups, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		return err
	}
	if f := backups.Fields.GetByName("encrypted_data"); f != nil {
		f.SetHidden(true)
	}
	backups.AddIndex("idx_backups_list_created", false, "created, storage_key, user_id, version, size, updated", "")
	backups.AddIndex("idx_backups_list_updated", false, "updated, storage_key, user_id, version, size, created", "")
	return app.Save(backups)
}

func downStatsCollection(app core.App) error {
	c, err := app.FindCollectionByNameOrId("stats")
	if err != nil {
		return nil
	}
	return app.Delete(c)
}
