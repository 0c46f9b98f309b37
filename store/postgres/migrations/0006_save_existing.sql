-- A save of an existing backup as one statement, so one round trip and its
-- own transaction: the user locked and the backup found (lock_user_backup),
-- the conditional version, the backup's saves per hour and per day, the
-- quota, then the version written and the history pruned
-- (add_backup_version): sqlstore's SaveBackup, in the same order, for the
-- case that needs nothing else. outcome says what happened: 'saved'; or,
-- with nothing written, 'new' (no such backup: the caller creates it in a
-- transaction of its own), 'no_user', 'stale' (current_version is the
-- backup's), 'hour' or 'day' (oldest_hit, Unix ms, is the window's oldest
-- save) and 'quota' (the new version alone exceeds it).

CREATE FUNCTION save_existing_backup(p_user TEXT, p_key TEXT, p_if_match BIGINT, p_version BIGINT,
	p_size BIGINT, p_at BIGINT, p_data TEXT, p_depth BIGINT, p_quota BIGINT, p_now TIMESTAMPTZ,
	p_bucket TEXT, p_per_hour INT, p_per_day INT,
	OUT outcome TEXT, OUT new_version BIGINT, OUT pruned_count BIGINT, OUT current_version BIGINT,
	OUT oldest_hit BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
	v_id TEXT;
	v_n  INT;
BEGIN
	new_version := 0;
	pruned_count := 0;
	current_version := 0;
	oldest_hit := 0;
	SELECT lb.backup_id, lb.backup_version INTO v_id, current_version FROM lock_user_backup(p_user, p_key) lb;
	IF NOT FOUND THEN
		outcome := 'no_user';
		current_version := 0;
		RETURN;
	END IF;
	IF v_id IS NULL THEN
		outcome := 'new';
		current_version := 0;
		RETURN;
	END IF;
	IF p_if_match > 0 AND current_version <> p_if_match OR p_version > 0 AND current_version <> p_version - 1 THEN
		outcome := 'stale';
		RETURN;
	END IF;
	IF p_per_hour > 0 THEN
		SELECT COUNT(*), COALESCE(MIN(r.at), 0) INTO v_n, oldest_hit FROM (SELECT rl.at FROM rate_limits rl
			WHERE rl.bucket = p_bucket AND rl.at > p_at - 3600000 ORDER BY rl.at DESC LIMIT p_per_hour) r;
		IF v_n >= p_per_hour THEN
			outcome := 'hour';
			RETURN;
		END IF;
	END IF;
	IF p_per_day > 0 THEN
		SELECT COUNT(*), COALESCE(MIN(r.at), 0) INTO v_n, oldest_hit FROM (SELECT rl.at FROM rate_limits rl
			WHERE rl.bucket = p_bucket AND rl.at > p_at - 86400000 ORDER BY rl.at DESC LIMIT p_per_day) r;
		IF v_n >= p_per_day THEN
			outcome := 'day';
			RETURN;
		END IF;
	END IF;
	oldest_hit := 0;
	IF p_quota > 0 AND p_size > p_quota THEN
		outcome := 'quota';
		RETURN;
	END IF;
	IF p_per_hour > 0 OR p_per_day > 0 THEN
		INSERT INTO rate_limits (bucket, at) VALUES (p_bucket, p_at);
	END IF;
	SELECT av.new_version, av.pruned_count INTO new_version, pruned_count
		FROM add_backup_version(v_id, current_version, p_size, p_at, p_data, p_depth, p_quota, p_now) av;
	IF new_version = 0 THEN
		-- Cannot happen while the user's row is locked; should it, the raise
		-- undoes what was written and the caller saves the long way.
		RAISE EXCEPTION 'dailyreps: backup moved on during the save';
	END IF;
	outcome := 'saved';
END
$$;
