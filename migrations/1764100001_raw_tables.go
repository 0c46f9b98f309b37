package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(upRawTables, downRawTables, "1764100001_raw_tables.go")
}

// Tables the dashboard need not show. Times are Unix milliseconds. There are
// no SQL foreign keys to the collections on purpose: PocketBase may rebuild a
// collection's table when an admin edits it, and a cascading key would then
// wipe these rows. The store deletes them explicitly, and a record-delete hook
// does so for deletions made in the dashboard.
const rawTables = `
CREATE TABLE backup_history (
	storage_key    TEXT NOT NULL,
	user_id        TEXT NOT NULL,
	version        INTEGER NOT NULL,
	encrypted_data TEXT NOT NULL,
	size           INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	PRIMARY KEY (storage_key, version)
);
CREATE INDEX idx_backup_history_user ON backup_history (user_id);

CREATE TABLE rate_limits (
	bucket TEXT NOT NULL,
	at     INTEGER NOT NULL
);
CREATE INDEX idx_rate_limits_bucket_at ON rate_limits (bucket, at);
CREATE INDEX idx_rate_limits_at ON rate_limits (at);

CREATE TABLE replays (
	nonce   TEXT PRIMARY KEY NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idx_replays_expires ON replays (expires);

CREATE TABLE activity (
	user_id     TEXT NOT NULL,
	storage_key TEXT NOT NULL,
	kind        TEXT NOT NULL,
	minute      INTEGER NOT NULL,
	count       INTEGER NOT NULL,
	PRIMARY KEY (user_id, storage_key, kind, minute)
) WITHOUT ROWID;

CREATE TABLE invites (
	code    TEXT PRIMARY KEY NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE dailyreps_meta (
	key   TEXT PRIMARY KEY NOT NULL,
	value TEXT NOT NULL
) WITHOUT ROWID;
`

func upRawTables(app core.App) error {
	_, err := app.DB().NewQuery(rawTables).Execute()
	return err
}

func downRawTables(app core.App) error {
	_, err := app.DB().NewQuery(`
		DROP TABLE IF EXISTS dailyreps_meta; DROP TABLE IF EXISTS invites;
		DROP TABLE IF EXISTS activity; DROP TABLE IF EXISTS replays;
		DROP TABLE IF EXISTS rate_limits; DROP TABLE IF EXISTS backup_history;`).Execute()
	return err
}
