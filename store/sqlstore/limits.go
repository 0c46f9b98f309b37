package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// UseNonce implements store.Store. The upsert only takes over an expired
// record, so one statement both checks and records.
func (s *Store) UseNonce(ctx context.Context, nonce string, expires, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error { return s.recordNonce(tx, nonce, expires, now) })
}

// recordNonce records a replay record inside tx, ErrReplay when it is
// there and unexpired (on PostgreSQL a concurrent insert of the same nonce
// waits for the first transaction, then finds its row).
func (s *Store) recordNonce(tx *dbx.Tx, nonce string, expires, now time.Time) error {
	res, err := s.txExec(tx, `INSERT INTO replays (nonce, expires) VALUES ({:nonce}, {:expires})
		ON CONFLICT (nonce) DO UPDATE SET expires = excluded.expires WHERE replays.expires < {:now}`,
		dbx.Params{"nonce": nonce, "expires": ms(expires), "now": ms(now)})
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrReplay
	}
	return nil
}

// Hit implements store.Store.
func (s *Store) Hit(ctx context.Context, bucket string, window time.Duration, max int, now time.Time) error {
	if max <= 0 {
		return nil
	}
	return s.tx(ctx, func(tx *dbx.Tx) error {
		if s.d.LockBucket != "" {
			if _, err := tx.NewQuery(s.d.LockBucket).Bind(dbx.Params{"bucket": bucket}).Execute(); err != nil {
				return err
			}
		}
		if err := s.refuseOverLimit(tx, bucket, "requests", window, max, now); err != nil {
			return err
		}
		return s.recordHit(tx, bucket, now)
	})
}

// RegisterCounted implements store.Store. The insert comes first and the
// limit after it, in the same transaction: a refusal rolls the new user
// back, and a user that already exists never reaches the limit.
func (s *Store) RegisterCounted(ctx context.Context, user, bucket string, window time.Duration, max int, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		if err := s.insertUser(tx, user, now); err != nil {
			return err
		}
		if max <= 0 {
			return nil
		}
		if s.d.LockBucket != "" {
			if _, err := tx.NewQuery(s.d.LockBucket).Bind(dbx.Params{"bucket": bucket}).Execute(); err != nil {
				return err
			}
		}
		if err := s.refuseOverLimit(tx, bucket, "requests", window, max, now); err != nil {
			return err
		}
		return s.recordHit(tx, bucket, now)
	})
}

// refuseOverLimit returns a *store.LimitError when bucket already holds max
// hits inside the window ending now; RetryAfter is when the oldest leaves it.
func (s *Store) refuseOverLimit(tx *dbx.Tx, bucket, reason string, window time.Duration, max int, now time.Time) error {
	if max <= 0 {
		return nil
	}
	var oldest sql.NullInt64
	var n int
	err := s.txRow(tx, `SELECT COUNT(*), MIN(at) FROM (SELECT at FROM rate_limits
			WHERE bucket = {:bucket} AND at > {:since} ORDER BY at DESC LIMIT {:max}) AS recent`,
		dbx.Params{"bucket": bucket, "since": ms(now.Add(-window)), "max": max}, &n, &oldest)
	if err != nil {
		return err
	}
	if n < max {
		return nil
	}
	retry := fromMS(oldest.Int64).Add(window).Sub(now)
	if retry < time.Second {
		retry = time.Second
	}
	return &store.LimitError{Reason: reason, RetryAfter: retry}
}

func (s *Store) recordHit(tx *dbx.Tx, bucket string, now time.Time) error {
	_, err := s.txExec(tx, `INSERT INTO rate_limits (bucket, at) VALUES ({:bucket}, {:at})`,
		dbx.Params{"bucket": bucket, "at": ms(now)})
	return err
}

// RecordEvents implements store.Store. Equal events (one backup's kind in one
// minute) are merged before they reach the database, and each statement is
// prepared once per batch: a busy backup's second of restores is one upsert,
// not one statement compiled and run per request.
func (s *Store) RecordEvents(ctx context.Context, events []store.EventRecord) error {
	if len(events) == 0 {
		return nil
	}
	type slot struct {
		user, key, kind string
		minute          int64
	}
	counts := make(map[slot]int64, len(events))
	var slots []slot // first-seen order
	var backups [][2]string
	seen := map[[2]string]bool{}
	for _, e := range events {
		k := slot{e.User, e.Key, e.Kind, e.At.Unix() / 60}
		if counts[k] == 0 {
			slots = append(slots, k)
		}
		counts[k] += max(e.Count, 1)
		if b := [2]string{e.User, e.Key}; !seen[b] {
			seen[b] = true
			backups = append(backups, b)
		}
	}
	return s.tx(ctx, func(tx *dbx.Tx) error {
		add := tx.NewQuery(`INSERT INTO activity (user_id, storage_key, kind, minute, count)
			SELECT {:user}, {:key}, {:kind}, {:minute}, {:n} WHERE EXISTS (SELECT 1 FROM users WHERE id = {:user})
			ON CONFLICT (user_id, storage_key, kind, minute) DO UPDATE SET count = activity.count + excluded.count`).Prepare()
		defer add.Close()
		for _, k := range slots {
			p := dbx.Params{"user": k.user, "key": k.key, "kind": k.kind, "minute": k.minute, "n": counts[k]}
			if _, err := add.Bind(p).Execute(); err != nil {
				return err
			}
		}
		trim := tx.NewQuery(`DELETE FROM activity WHERE user_id = {:user} AND storage_key = {:key}
			AND minute < (SELECT MIN(minute) FROM (SELECT minute FROM activity
				WHERE user_id = {:user} AND storage_key = {:key} ORDER BY minute DESC LIMIT {:depth}) AS kept)`).Prepare()
		defer trim.Close()
		for _, b := range backups {
			depth := store.ActivityDepth
			if b[1] == "" { // the user-wide failed attempts: a window of their own
				depth = store.FailedAttemptDepth
			}
			if _, err := trim.Bind(dbx.Params{"user": b[0], "key": b[1], "depth": depth}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Activity implements store.Store.
func (s *Store) Activity(ctx context.Context, user, key string) ([]store.Event, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if key == "" {
		return s.userActivity(ctx, user)
	}
	if err := s.owns(ctx, s.read, user, key); err != nil {
		return nil, err
	}
	// The backup's own events and the user-wide failed attempts each fill a
	// window of their own, so that a stranger's guesses never push the
	// owner's events out.
	rows, err := s.read.NewQuery(`SELECT kind, minute, count FROM (
			SELECT kind, minute, count FROM (SELECT kind, minute, count FROM activity
				WHERE user_id = {:user} AND storage_key = {:key} ORDER BY minute DESC, kind LIMIT {:depth}) AS own
			UNION ALL
			SELECT kind, minute, count FROM (SELECT kind, minute, count FROM activity
				WHERE user_id = {:user} AND storage_key = '' ORDER BY minute DESC LIMIT {:failed}) AS failed
		) AS events ORDER BY minute DESC, kind`).
		Bind(dbx.Params{"user": user, "key": key, "depth": store.ActivityDepth, "failed": store.FailedAttemptDepth}).
		WithContext(ctx).Rows()
	if err != nil {
		return nil, s.fail(err)
	}
	return s.scanEvents(rows)
}

// userActivity returns the user-wide events alone (an account's failed
// attempts, shown without a backup).
func (s *Store) userActivity(ctx context.Context, user string) ([]store.Event, error) {
	var one int
	err := s.read.NewQuery(`SELECT 1 FROM users WHERE id = {:user}`).Bind(dbx.Params{"user": user}).WithContext(ctx).Row(&one)
	if err != nil {
		return nil, s.fail(err)
	}
	rows, err := s.read.NewQuery(`SELECT kind, minute, count FROM activity
		WHERE user_id = {:user} AND storage_key = '' ORDER BY minute DESC, kind LIMIT {:failed}`).
		Bind(dbx.Params{"user": user, "failed": store.FailedAttemptDepth}).WithContext(ctx).Rows()
	if err != nil {
		return nil, s.fail(err)
	}
	return s.scanEvents(rows)
}

func (s *Store) scanEvents(rows *dbx.Rows) ([]store.Event, error) {
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		var e store.Event
		var minute int64
		if err := rows.Scan(&e.Kind, &minute, &e.Count); err != nil {
			return nil, s.fail(err)
		}
		e.At = time.Unix(minute*60, 0).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, s.fail(err)
	}
	return out, nil
}
