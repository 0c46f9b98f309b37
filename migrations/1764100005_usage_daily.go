package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(upUsageDaily, downUsageDaily, "1764100005_usage_daily.go")
}

// usage_daily holds the day's usage counters (saves, restores, refusals by
// reason, failed attempts); day is the Unix day (UTC).
func upUsageDaily(app core.App) error {
	_, err := app.DB().NewQuery(`
		CREATE TABLE usage_daily (
			day   INTEGER NOT NULL,
			name  TEXT NOT NULL,
			count INTEGER NOT NULL,
			PRIMARY KEY (day, name)
		) WITHOUT ROWID;
		CREATE INDEX idx_activity_minute ON activity (minute);`).Execute()
	return err
}

func downUsageDaily(app core.App) error {
	_, err := app.DB().NewQuery(`DROP INDEX IF EXISTS idx_activity_minute; DROP TABLE IF EXISTS usage_daily;`).Execute()
	return err
}
