-- The day's usage counters (saves, restores, refusals by reason, failed
-- attempts), added to by every instance; day is the Unix day (UTC).
CREATE TABLE usage_daily (
	day   BIGINT NOT NULL,
	name  TEXT NOT NULL,
	count BIGINT NOT NULL,
	PRIMARY KEY (day, name)
);
-- Active users are counted from activity by time.
CREATE INDEX activity_minute_idx ON activity (minute);
