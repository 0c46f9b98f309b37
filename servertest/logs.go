package servertest

import (
	"path/filepath"
	"testing"

	"github.com/dailyreps/backup/store/sqlite"
)

// LogRow is one line of PocketBase's log (the dashboard's Logs).
type LogRow struct {
	Message string `db:"message"`
	Data    string `db:"data"` // JSON
}

// LogRows reads the log of a stopped server (stopping flushes PocketBase's
// batched writes) from its data directory.
func LogRows(t testing.TB, dataDir string) []LogRow {
	t.Helper()
	db, err := sqlite.DBConnect(filepath.Join(dataDir, "auxiliary.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []LogRow
	if err := db.Select("message", "data").From("_logs").All(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}
