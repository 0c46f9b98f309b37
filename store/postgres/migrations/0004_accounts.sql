-- Protocol v2: accounts and their sessions; every id, verifier and token is
-- peppered. Times are Unix milliseconds, as in the other raw tables. The keys
-- are deferred for the reason 0001_init.sql gives (Rekey rewrites ids one
-- column at a time); ON DELETE CASCADE still acts at once.

CREATE TABLE accounts (
	user_id              TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	kdf                  TEXT NOT NULL,
	verifier             TEXT NOT NULL,
	recovery_verifier    TEXT NOT NULL,
	wrapped_key          TEXT NOT NULL,
	recovery_wrapped_key TEXT NOT NULL,
	created              BIGINT NOT NULL,
	updated              BIGINT NOT NULL
);

CREATE TABLE sessions (
	token   TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	expires BIGINT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id, expires);
CREATE INDEX sessions_expires_idx ON sessions (expires);

-- A v2 backup's name (the client's backupId, listed back to it; '' for a v1
-- backup) and an upgraded backup's sealed v1 key. A constant default adds
-- the columns without rewriting the table.
ALTER TABLE backups ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE backups ADD COLUMN legacy_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX backups_user_name ON backups (user_id, name) WHERE name <> '';
