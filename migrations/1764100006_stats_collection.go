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
func upStatsCollection(app core.App) error {
	stats := core.NewBaseCollection("stats", "dr_stats")
	stats.Fields.RemoveByName("id")
	stats.Fields.Add(
		&core.TextField{Name: "id", System: true, PrimaryKey: true, Required: true, Max: 100, Pattern: "^[a-z0-9_]+$"},
		&core.NumberField{Name: "value"},
		&core.TextField{Name: "about"},
	)
	stats.ListRule, stats.ViewRule, stats.CreateRule, stats.UpdateRule, stats.DeleteRule = nil, nil, nil, nil, nil
	return app.Save(stats)
}

func downStatsCollection(app core.App) error {
	c, err := app.FindCollectionByNameOrId("stats")
	if err != nil {
		return nil
	}
	return app.Delete(c)
}
