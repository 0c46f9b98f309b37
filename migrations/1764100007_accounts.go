package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(upAccounts, nil, "1764100007_accounts.go")
}

// Protocol v2's accounts and sessions, raw tables like the others beside the
// collections (no SQL foreign key to users, for the reason given in
// 1764100001_raw_tables.go: the store deletes them explicitly, and the
// dashboard's record-delete hook does so for a user deleted there). Times
// are Unix milliseconds. Every id, verifier and token is peppered.
const accountsTables = `
CREATE TABLE accounts (
	user_id              TEXT PRIMARY KEY NOT NULL,
	kdf                  TEXT NOT NULL,
	verifier             TEXT NOT NULL,
	recovery_verifier    TEXT NOT NULL,
	wrapped_key          TEXT NOT NULL,
	recovery_wrapped_key TEXT NOT NULL,
	created              INTEGER NOT NULL,
	updated              INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
	token   TEXT PRIMARY KEY NOT NULL,
	user_id TEXT NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idx_sessions_user ON sessions (user_id, expires);
CREATE INDEX idx_sessions_expires ON sessions (expires);`

// upAccounts adds the tables and, to the backups collection, a v2 backup's
// name (the client's backupId, listed back to it; empty for a v1 backup) and an
// upgraded backup's sealed v1 key. Adding columns with a default keeps every
// existing row as it is; PocketBase runs the migration in one transaction.
func upAccounts(app core.App) error {
	if _, err := app.DB().NewQuery(accountsTables).Execute(); err != nil {
		return err
	}
	backups, err := app.FindCollectionByNameOrId("backups")
	if err != nil {
		return err
	}
	backups.Fields.Add(
		&core.TextField{Name: "name", Max: 64},
		&core.TextField{Name: "legacy_key", Max: 1000},
	)
	// A name is unique per user; v1 backups all have ''.
	backups.AddIndex("idx_backups_user_name", true, "user_id, name", "name != ''")
	return app.Save(backups)
}
