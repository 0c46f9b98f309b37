-- A save of an existing backup as one round trip: what sqlstore's addVersion
-- does statement by statement on SQLite (where a statement costs no trip to
-- a server), done here inside the database. Given the backup, its newest
-- version (read under the user's row lock) and the new version's data, it
-- finds the oldest version that the history depth or the quota (counted from
-- the newest version down, the new one included) no longer leave room for,
-- writes the new version, moves the backup to it and drops the versions
-- beyond. It returns the new version and how many history versions it
-- dropped, or version 0 when the backup is no longer at p_current (the caller
-- answers "stale"). A new version larger than the quota on its own is refused
-- by the caller before it gets here.

CREATE FUNCTION add_backup_version(p_id TEXT, p_current BIGINT, p_size BIGINT, p_at BIGINT, p_data TEXT,
	p_depth BIGINT, p_quota BIGINT, p_now TIMESTAMPTZ, OUT new_version BIGINT, OUT pruned_count BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
	v_next   BIGINT := p_current + 1;
	v_oldest BIGINT := p_current - p_depth;
	v_used   BIGINT := p_size;
	v_row    RECORD;
BEGIN
	new_version := 0;
	pruned_count := 0;
	IF p_quota > 0 THEN
		FOR v_row IN SELECT bv.version, bv.size FROM backup_versions bv
			WHERE bv.backup_id = p_id ORDER BY bv.version DESC
		LOOP
			EXIT WHEN v_row.version <= v_oldest;
			v_used := v_used + v_row.size;
			IF v_used > p_quota THEN
				v_oldest := v_row.version;
				EXIT;
			END IF;
		END LOOP;
	END IF;
	INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
		VALUES (p_id, v_next, p_size, p_at, p_data);
	UPDATE backups b SET version = v_next, size = p_size, updated_at = p_now
		WHERE b.id = p_id AND b.version = p_current;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	new_version := v_next;
	IF v_oldest <= 0 THEN
		RETURN;
	END IF;
	IF p_depth <= 0 THEN
		-- Without history the previous version is replaced, not pruned.
		DELETE FROM backup_versions bv WHERE bv.backup_id = p_id AND bv.version = p_current;
	END IF;
	DELETE FROM backup_versions bv WHERE bv.backup_id = p_id AND bv.version <= v_oldest;
	GET DIAGNOSTICS pruned_count = ROW_COUNT;
END
$$;

-- A save's first step as one round trip: the user's row locked (so that one
-- user's saves queue across instances), then the backup's id and newest
-- version, NULLs when there is none, or no row for an unknown user. Two
-- statements, not one with a join: in READ COMMITTED a statement that waited
-- for the lock still reads the other tables as they were when it began,
-- while each statement of a function takes a fresh snapshot and so sees the
-- save it waited for.
CREATE FUNCTION lock_user_backup(p_user TEXT, p_key TEXT)
	RETURNS TABLE (backup_id TEXT, backup_version BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM users u WHERE u.id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	RETURN QUERY SELECT b.id, b.version FROM backups b WHERE b.user_id = p_user AND b.storage_key = p_key;
	IF NOT FOUND THEN
		backup_id := NULL;
		backup_version := NULL;
		RETURN NEXT;
	END IF;
END
$$;
