-- Every version of a backup is its own row in backup_versions, the newest
-- included, written once; backups keeps metadata only. A version references
-- its backup by an id that a pepper rotation never rewrites, so version rows
-- are never updated. The storage key is unique per user, not server-wide:
-- the same key under another user is another backup.
--
-- Applied in one transaction with its schema_migrations record: a failure
-- anywhere leaves the old tables as they were.

CREATE TABLE backup_versions (
	backup_id      TEXT NOT NULL,
	version        BIGINT NOT NULL,
	size           BIGINT NOT NULL,
	updated        BIGINT NOT NULL,
	encrypted_data TEXT NOT NULL
);

-- A volatile default is evaluated per row, existing rows included.
ALTER TABLE backups ADD COLUMN id TEXT NOT NULL DEFAULT gen_random_uuid()::text;
-- A short keyed hash of the address that created the backup ('' for backups
-- older than this column).
ALTER TABLE backups ADD COLUMN creator TEXT NOT NULL DEFAULT '';

INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
	SELECT id, version, size, floor(extract(epoch FROM updated_at) * 1000)::bigint, encrypted_data FROM backups;
INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
	SELECT b.id, h.version, h.size, h.updated, h.encrypted_data
	FROM backup_history h JOIN backups b ON b.storage_key = h.storage_key;

-- Built after the copy; also refuses (and so rolls back) an old database
-- whose history and newest version share a version number. INCLUDE makes
-- it cover sizes, counts and version lists.
ALTER TABLE backup_versions ADD PRIMARY KEY (backup_id, version) INCLUDE (size, updated);

DROP TABLE backup_history;
-- The dropped column's stored values are freed as rows are rewritten by
-- later saves and vacuumed; VACUUM FULL backups frees them at once.
ALTER TABLE backups DROP COLUMN encrypted_data;
ALTER TABLE backups DROP CONSTRAINT backups_pkey;
ALTER TABLE backups ADD PRIMARY KEY (id);
ALTER TABLE backups ADD CONSTRAINT backups_user_key UNIQUE (user_id, storage_key);
DROP INDEX backups_user_id_idx;
-- Rotating the pepper rewrites storage keys one by one.
CREATE INDEX backups_storage_key_idx ON backups (storage_key);

ALTER TABLE backup_versions ADD CONSTRAINT backup_versions_backup_fk
	FOREIGN KEY (backup_id) REFERENCES backups (id) ON DELETE CASCADE;
