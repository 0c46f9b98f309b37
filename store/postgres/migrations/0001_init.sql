-- The store's schema. users and backups keep their times as TIMESTAMPTZ; the
-- other tables keep Unix milliseconds in BIGINT, as on SQLite, because the
-- shared SQL compares and scans those columns as integers on both backends.
--
-- The foreign keys are DEFERRABLE INITIALLY DEFERRED because Rekey rewrites
-- referenced and referencing ids one column at a time inside one transaction:
-- the references only hold again at its commit. ON DELETE CASCADE still acts
-- at once (PostgreSQL never defers referential actions).

CREATE TABLE users (
	id         TEXT PRIMARY KEY,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE backups (
	storage_key    TEXT PRIMARY KEY,
	user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	encrypted_data TEXT NOT NULL,
	version        BIGINT NOT NULL,
	size           BIGINT NOT NULL,
	created_at     TIMESTAMPTZ NOT NULL,
	updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX backups_user_id_idx ON backups (user_id);

CREATE TABLE backup_history (
	storage_key    TEXT NOT NULL REFERENCES backups (storage_key) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	user_id        TEXT NOT NULL,
	version        BIGINT NOT NULL,
	encrypted_data TEXT NOT NULL,
	size           BIGINT NOT NULL,
	updated        BIGINT NOT NULL,
	PRIMARY KEY (storage_key, version)
);
CREATE INDEX backup_history_user_id_idx ON backup_history (user_id);

CREATE TABLE rate_limits (
	bucket TEXT NOT NULL,
	at     BIGINT NOT NULL
);
CREATE INDEX rate_limits_bucket_at_idx ON rate_limits (bucket, at);
CREATE INDEX rate_limits_at_idx ON rate_limits (at);

CREATE TABLE replays (
	nonce   TEXT PRIMARY KEY,
	expires BIGINT NOT NULL
);
CREATE INDEX replays_expires_idx ON replays (expires);

-- storage_key is '' for user-wide events, so it references nothing.
CREATE TABLE activity (
	user_id     TEXT NOT NULL,
	storage_key TEXT NOT NULL,
	kind        TEXT NOT NULL,
	minute      BIGINT NOT NULL,
	count       BIGINT NOT NULL,
	PRIMARY KEY (user_id, storage_key, kind, minute)
);

CREATE TABLE invites (
	code    TEXT PRIMARY KEY,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);

CREATE TABLE dailyreps_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
