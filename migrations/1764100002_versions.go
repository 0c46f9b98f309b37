package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(upVersions, nil, "1764100002_versions.go")
}

// versionsTable holds every version of every backup, the newest included,
// each written once; the backups collection keeps only metadata. The small
// columns come before the blob, and a covering index answers sizes, counts
// and version lists without reading a row that holds a blob. backup_id is
// the backups record's id, which neither a pepper rotation nor anything
// else rewrites, so a version row is never updated.
const versionsTable = `
CREATE TABLE backup_versions (
	backup_id      TEXT NOT NULL,
	version        INTEGER NOT NULL,
	size           INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	encrypted_data TEXT NOT NULL
);`

// The indexes are built after the copy (faster than row by row); the unique
// one also refuses an old database whose history and newest version share a
// version number, which then fails the migration as a whole.
const versionsIndexes = `
CREATE UNIQUE INDEX idx_backup_versions_key ON backup_versions (backup_id, version);
CREATE INDEX idx_backup_versions_sizes ON backup_versions (backup_id, version, size, updated);`

// copyVersions moves the newest versions and the history into
// backup_versions. The newest version's time is PocketBase's text date,
// turned into Unix milliseconds as the history's already are.
const copyVersions = `
INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
	SELECT id, version, size, CAST(ROUND((julianday(updated) - 2440587.5) * 86400000.0) AS INTEGER), encrypted_data
	FROM backups;
INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
	SELECT b.id, h.version, h.size, h.updated, h.encrypted_data
	FROM backup_history h JOIN backups b ON b.storage_key = h.storage_key;`

// upVersions converts the layout in place. PocketBase runs all pending
// migrations in one transaction, so a failure anywhere leaves the old tables
// as they were.
func upVersions(app core.App) error {
	for _, stmt := range []string{versionsTable, copyVersions, versionsIndexes, `DROP TABLE backup_history`} {
		if _, err := app.DB().NewQuery(stmt).Execute(); err != nil {
			return err
		}
	}
	return updateBackupsCollection(app)
}

// updateBackupsCollection drops the blob from the backups collection (so no
// dashboard list ever reads one), adds the creating address's tag and moves
// the key's uniqueness to (user, key): the same storage key under another
// user is another backup.
func updateBackupsCollection(app core.App) error {
	backups, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		return err
	}
	backups.Fields.RemoveByName("encrypted_data")
	// A short keyed hash of the address that created the backup, for the
	// per-address share of the per-user backup limit (see store.SaveRequest).
	backups.Fields.Add(&core.TextField{Name: "creator", Max: 16})
	backups.RemoveIndex("idx_backups_storage_key")
	backups.RemoveIndex("idx_backups_user_id")
	backups.AddIndex("idx_backups_user_key", true, "user_id, storage_key", "")
	// Rotating the pepper rewrites storage keys one by one.
	backups.AddIndex("idx_backups_storage_key", false, "storage_key", "")
	return app.Save(backups)
}
