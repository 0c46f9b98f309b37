package sqlstore

import (
	"context"
	"database/sql"
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
// transaction: limits, the conditional version, the new version, the prune
// and the quota.
func (s *Store) SaveBackup(ctx context.Context, req store.SaveRequest) (store.SaveResult, error) {
	if s.d.SaveExisting != "" && req.Nonce == "" {
		// A signed save's replay record is written by the transaction below.
		if out, done, err := s.saveExisting(ctx, req); done {
			return out, err
		}
	}
	var out store.SaveResult
	err := s.tx(ctx, func(tx *dbx.Tx) error {
		if req.Nonce != "" {
			if err := s.recordNonce(tx, req.Nonce, req.NonceExpires, req.Now); err != nil {
				return err
			}
		}
		// Locks the user row (PostgreSQL) so a user's saves queue across
		// instances: the counts below then cannot be raced.
		var foundID sql.NullString
		var foundVersion, storedBytes sql.NullInt64
		err := s.txRow(tx, s.q.lockUserBackup, dbx.Params{"user": req.User, "key": req.Key},
			&foundID, &foundVersion, &storedBytes)
		if err != nil {
			return err // no rows: unknown user
		}
		id, current, exists := foundID.String, foundVersion.Int64, foundID.Valid
		if req.IfMatch > 0 && current != req.IfMatch {
			// Checked before anything is counted against the limits.
			return &store.StaleError{Current: current}
		}
		if req.Version > 0 && current != req.Version-1 {
			// A v2 client numbered its ciphertext: only that version fits.
			return &store.StaleError{Current: current}
		}
		if !exists {
			if req.Name == "" {
				if err := s.refuseBesideAccount(tx, req.User); err != nil {
					return err
				}
			}
			if err := s.checkNewBackup(tx, req); err != nil {
				return err
			}
		}
		if err := s.checkSaveRate(tx, req); err != nil {
			return err
		}
		if exists {
			out.Version, out.Pruned, err = s.addVersion(tx, req, id, current, storedBytes)
		} else {
			out.Version, err = 1, s.create(tx, req)
		}
		out.UpdatedAt = req.Now.UTC()
		return err
	})
	return out, err
}

// refuseBesideAccount refuses a v1 backup under a user who has a v2
// account: after an upgrade no v1 backup may appear beside it (the user row
// is locked by the caller, so an upgrade cannot slip in between).
func (s *Store) refuseBesideAccount(tx *dbx.Tx, user string) error {
	var n int
	if err := s.txRow(tx, hasAccount, dbx.Params{"user": user}, &n); err != nil {
		return err
	}
	if n > 0 {
		return store.ErrAccount
	}
	return nil
}

// create writes a new backup's metadata row and its first version.
func (s *Store) create(tx *dbx.Tx, req store.SaveRequest) error {
	size := int64(len(req.Data))
	var id string
	err := s.txRow(tx, s.q.insertBackup, dbx.Params{"key": req.Key, "user": req.User, "size": size,
		"creator": req.Creator, "name": req.Name, "now": s.d.TimeArg(req.Now)}, &id)
	if err != nil {
		return err
	}
	_, err = s.txExec(tx, insertVersion, dbx.Params{"id": id, "version": 1, "size": size, "at": ms(req.Now), "data": req.Data})
	return err
}

// addVersion writes the next version of backup id and drops the versions
// that the depth limit or the quota no longer leave room for, oldest first;
// it returns the new version and how many history versions it dropped.
// stored is the bytes its versions hold now, when known.
func (s *Store) addVersion(tx *dbx.Tx, req store.SaveRequest, id string, current int64, stored sql.NullInt64) (int64, int64, error) {
	next, size := current+1, int64(len(req.Data))
	if s.d.AddVersion != "" {
		return s.addVersionAtOnce(tx, req, id, current, size)
	}
	oldest, err := s.oldestDropped(tx, req, id, next, size, stored)
	if err != nil {
		return 0, 0, err
	}
	if _, err := s.txExec(tx, insertVersion, dbx.Params{"id": id, "version": next, "size": size,
		"at": ms(req.Now), "data": req.Data}); err != nil {
		return 0, 0, err
	}
	res, err := s.txExec(tx, s.q.updateBackup, dbx.Params{"id": id, "version": next, "size": size,
		"now": s.d.TimeArg(req.Now), "current": current})
	if err != nil {
		return 0, 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, 0, &store.StaleError{Current: current}
	}
	if oldest <= 0 {
		return next, 0, nil
	}
	if req.Limits.HistoryDepth <= 0 {
		// Without history the previous version is replaced, not pruned.
		if _, err := s.txExec(tx, dropVersion, dbx.Params{"id": id, "version": current}); err != nil {
			return 0, 0, err
		}
	}
	res, err = s.txExec(tx, dropVersions, dbx.Params{"id": id, "oldest": oldest})
	if err != nil {
		return 0, 0, err
	}
	pruned, err := res.RowsAffected()
	return next, pruned, err
}

// addVersionAtOnce is addVersion as the dialect's one statement.
func (s *Store) addVersionAtOnce(tx *dbx.Tx, req store.SaveRequest, id string, current, size int64) (int64, int64, error) {
	if quota := req.Limits.QuotaBytes; quota > 0 && size > quota {
		return 0, 0, store.ErrQuota
	}
	var next, pruned int64
	err := s.txRow(tx, s.d.AddVersion, dbx.Params{"id": id, "current": current, "size": size, "at": ms(req.Now),
		"data": req.Data, "depth": req.Limits.HistoryDepth, "quota": req.Limits.QuotaBytes, "now": s.d.TimeArg(req.Now)},
		&next, &pruned)
	if err != nil {
		return 0, 0, err
	}
	if next == 0 {
		return 0, 0, &store.StaleError{Current: current}
	}
	return next, pruned, nil
}

// oldestDropped returns the newest version that must go when version next
// of size bytes is added (0: none): beyond the history depth, or beyond the
// quota counted from the newest version down. History always yields to the
// new version; only a new version that alone exceeds the quota is refused.
// When all the versions stored (stored bytes, if known) fit beside the new
// one, the quota drops nothing and the versions are not walked.
func (s *Store) oldestDropped(tx *dbx.Tx, req store.SaveRequest, id string, next, size int64, stored sql.NullInt64) (int64, error) {
	oldest := next - 1 - int64(req.Limits.HistoryDepth)
	quota := req.Limits.QuotaBytes
	if quota <= 0 {
		return oldest, nil
	}
	if size > quota {
		return 0, store.ErrQuota
	}
	if stored.Valid && stored.Int64+size <= quota {
		return oldest, nil
	}
	rows, closeStmt, err := s.txRows(tx, versionSizes, dbx.Params{"id": id})
	if err != nil {
		return 0, err
	}
	defer closeStmt()
	defer rows.Close()
	used := size
	for rows.Next() {
		var v, n int64
		if err := rows.Scan(&v, &n); err != nil {
			return 0, err
		}
		if v <= oldest {
			break
		}
		if used += n; used > quota {
			oldest = v
			break
		}
	}
	return oldest, rows.Err()
}

// checkNewBackup applies the limits on creating a backup: the number per
// user and per creating address, and the quota over the newest versions of
// the backups created from that address. Counting by address lets a
// stranger who knows the username fill only their own share, not stop the
// owner, from another address, from creating a backup.
func (s *Store) checkNewBackup(tx *dbx.Tx, req store.SaveRequest) error {
	l := req.Limits
	p := dbx.Params{"user": req.User, "creator": req.Creator}
	if l.MaxBackupsPerUser > 0 || l.MaxBackupsPerAddress > 0 {
		var all, fromAddress int
		if err := s.txRow(tx, countBackups, p, &all, &fromAddress); err != nil {
			return err
		}
		// Waiting does not help; a day tells a client not to retry soon.
		if l.MaxBackupsPerAddress > 0 && fromAddress >= l.MaxBackupsPerAddress {
			return &store.LimitError{Reason: store.ReasonBackupsPerAddress, RetryAfter: 24 * time.Hour}
		}
		if l.MaxBackupsPerUser > 0 && all >= l.MaxBackupsPerUser {
			return &store.LimitError{Reason: store.ReasonBackupsPerUser, RetryAfter: 24 * time.Hour}
		}
	}
	if l.QuotaBytes <= 0 {
		return nil
	}
	var used int64
	if err := s.txRow(tx, creatorNewestBytes, p, &used); err != nil {
		return err
	}
	if used+int64(len(req.Data)) > l.QuotaBytes {
		return store.ErrQuota
	}
	return nil
}

// saveBucket is the rate_limits bucket of a backup's saves.
func saveBucket(req store.SaveRequest) string { return "save:" + req.User + ":" + req.Key }

// checkSaveRate counts this save against the per-backup limits (sliding
// windows of an hour and a day) and records it.
func (s *Store) checkSaveRate(tx *dbx.Tx, req store.SaveRequest) error {
	// A backup is (user, key): another user's backup under the same key
	// must neither spend nor reveal this one's budget.
	bucket := saveBucket(req)
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
