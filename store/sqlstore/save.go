package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// Register implements store.Store.
func (s *Store) Register(ctx context.Context, user string, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error { return s.insertUser(tx, user, now) })
}

func (s *Store) insertUser(tx *dbx.Tx, user string, now time.Time) error {
	res, err := s.txExec(tx, s.q.register, dbx.Params{"user": user, "now": s.d.TimeArg(now)})
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrExists
	}
	return nil
}

// SaveBackup implements store.Store. Everything it checks and writes is one
// transaction: limits, ownership, the conditional version, the upsert, the
// history move and prune, and the quota.
func (s *Store) SaveBackup(ctx context.Context, req store.SaveRequest) (store.SaveResult, error) {
	var out store.SaveResult
	err := s.tx(ctx, func(tx *dbx.Tx) error {
		if req.Nonce != "" {
			if err := s.recordNonce(tx, req.Nonce, req.NonceExpires, req.Now); err != nil {
				return err
			}
		}
		var found string
		// Locks the user row (PostgreSQL) so a user's saves queue across
		// instances: the counts below then cannot be raced.
		if err := s.txRow(tx, s.q.lockUser, dbx.Params{"user": req.User}, &found); err != nil {
			return err // no rows: unknown user
		}

		var owner string
		var current int64
		var updated timeValue
		err := s.txRow(tx, s.q.backupForSave, dbx.Params{"key": req.Key}, &owner, &current, &updated)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if exists && owner != req.User {
			return store.ErrKeyOwned
		}
		if req.IfMatch > 0 && current != req.IfMatch {
			// Also decided by the conditional UPDATE below; checking here
			// first avoids counting a refused save against the limits.
			return &store.StaleError{Current: current}
		}
		if !exists {
			if err := s.checkBackupCount(tx, req); err != nil {
				return err
			}
		}
		if err := s.checkSaveRate(tx, req); err != nil {
			return err
		}

		p := dbx.Params{"key": req.Key, "user": req.User, "data": req.Data, "size": int64(len(req.Data)),
			"now": s.d.TimeArg(req.Now), "ifMatch": req.IfMatch}
		if exists {
			out.Version, out.Pruned, err = s.replace(tx, req, p, current, updated.t)
		} else {
			out.Version = 1
			var res sql.Result
			if res, err = s.txExec(tx, s.q.insertBackup, p); err == nil {
				// Saves of one user queue on its row, so a key that
				// appeared since the read above was written by another
				// user's concurrent save (PostgreSQL; SQLite has one writer).
				if n, _ := res.RowsAffected(); n == 0 {
					return store.ErrKeyOwned
				}
			}
		}
		if err != nil {
			return err
		}
		out.UpdatedAt = req.Now.UTC()
		return s.checkQuota(tx, req, exists)
	})
	return out, err
}

// replace moves the newest version into history, writes the new one and
// prunes history to the depth limit; it returns the new version and how
// many old ones the prune dropped.
func (s *Store) replace(tx *dbx.Tx, req store.SaveRequest, p dbx.Params, current int64, updated time.Time) (int64, int64, error) {
	if req.Limits.HistoryDepth > 0 {
		if _, err := s.txExec(tx, copyToHistory, dbx.Params{"key": req.Key, "updated": ms(updated)}); err != nil {
			return 0, 0, err
		}
	}
	stmt := s.q.updateBackup
	if req.IfMatch > 0 {
		stmt = s.q.condUpdateBackup
	}
	res, err := s.txExec(tx, stmt, p)
	if err != nil {
		return 0, 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, 0, &store.StaleError{Current: current}
	}
	next := current + 1
	res, err = s.txExec(tx, `DELETE FROM backup_history WHERE storage_key = {:key} AND version <= {:oldest}`,
		dbx.Params{"key": req.Key, "oldest": next - 1 - int64(req.Limits.HistoryDepth)})
	if err != nil {
		return 0, 0, err
	}
	pruned, err := res.RowsAffected()
	return next, pruned, err
}

func (s *Store) checkBackupCount(tx *dbx.Tx, req store.SaveRequest) error {
	if req.Limits.MaxBackupsPerUser <= 0 {
		return nil
	}
	var n int
	err := tx.NewQuery(`SELECT COUNT(*) FROM backups WHERE user_id = {:user}`).Bind(dbx.Params{"user": req.User}).Row(&n)
	if err != nil {
		return err
	}
	if n >= req.Limits.MaxBackupsPerUser {
		// Waiting does not help; a day tells a client not to retry soon.
		return &store.LimitError{Reason: store.ReasonBackupsPerUser, RetryAfter: 24 * time.Hour}
	}
	return nil
}

// checkSaveRate counts this save against the per-backup limits (sliding
// windows of an hour and a day) and records it.
func (s *Store) checkSaveRate(tx *dbx.Tx, req store.SaveRequest) error {
	bucket := "save:" + req.Key
	windows := []struct {
		reason string
		max    int
		span   time.Duration
	}{{"saves per hour", req.Limits.PerHour, time.Hour}, {"saves per day", req.Limits.PerDay, 24 * time.Hour}}
	for _, w := range windows {
		if err := s.refuseOverLimit(tx, bucket, w.reason, w.span, w.max, req.Now); err != nil {
			return err
		}
	}
	if req.Limits.PerHour <= 0 && req.Limits.PerDay <= 0 {
		return nil
	}
	return s.recordHit(tx, bucket, req.Now)
}

// checkQuota refuses a save that takes stored bytes over the quota, history
// included. A save to an existing backup is judged by that backup's own bytes,
// a new backup by the user's total: anyone who knows a username can create
// backups under it, and such junk must not be able to stop the owner's
// existing backup from saving. A user thus holds at most MaxBackupsPerUser
// times the quota.
func (s *Store) checkQuota(tx *dbx.Tx, req store.SaveRequest, existed bool) error {
	if req.Limits.QuotaBytes <= 0 {
		return nil
	}
	stmt, p := userBytes, dbx.Params{"user": req.User}
	if existed {
		stmt, p = backupBytes, dbx.Params{"key": req.Key}
	}
	var used int64
	if err := s.txRow(tx, stmt, p, &used); err != nil {
		return err
	}
	if used > req.Limits.QuotaBytes {
		return store.ErrQuota // rolls the whole save back
	}
	return nil
}
