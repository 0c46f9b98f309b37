package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// Protocol v2's accounts and sessions. An account is a users row (the
// peppered accountId) with an accounts row beside it; its backups are
// backups rows with a name. Every mutating method locks the user row first
// (PostgreSQL), as saves and deletes do, so that everything done to one user
// queues in one order across instances.

const hasAccount = `SELECT COUNT(*) FROM accounts WHERE user_id = {:user}`

const insertAccount = `INSERT INTO accounts (user_id, kdf, verifier, recovery_verifier, wrapped_key,
	recovery_wrapped_key, created, updated)
	VALUES ({:user}, {:kdf}, {:verifier}, {:rverifier}, {:wrapped}, {:rwrapped}, {:now}, {:now})`

const insertSession = `INSERT INTO sessions (token, user_id, expires) VALUES ({:token}, {:user}, {:expires})`

const sessionUser = `SELECT user_id FROM sessions WHERE token = {:token} AND expires > {:now}`

// CreateAccount implements store.Store. The invite, the user row, the
// account, the session and the limit's count are one transaction: a refusal
// anywhere leaves nothing behind, the invite unused included.
func (s *Store) CreateAccount(ctx context.Context, req store.NewAccount) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		if req.Invite != "" {
			res, err := s.txExec(tx, `DELETE FROM invites WHERE code = {:code} AND expires > {:now}`,
				dbx.Params{"code": req.Invite, "now": ms(req.Now)})
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return store.ErrNotFound
			}
		}
		// Exactly one of two racing creations inserts the row (PostgreSQL
		// makes the second wait for the first's commit).
		if err := s.insertUser(tx, req.Account.User, req.Now); err != nil {
			return err
		}
		if err := s.addAccount(tx, req.Account, req.Now); err != nil {
			return err
		}
		if err := s.addSession(tx, req.Account.User, req.Session); err != nil {
			return err
		}
		// Counted last, as RegisterCounted does: only a creation pays.
		l := req.Limit
		if l.Max <= 0 {
			return nil
		}
		if s.d.LockBucket != "" {
			if _, err := tx.NewQuery(s.d.LockBucket).Bind(dbx.Params{"bucket": l.Bucket}).Execute(); err != nil {
				return err
			}
		}
		if err := s.refuseOverLimit(tx, l.Bucket, "requests", l.Window, l.Max, req.Now); err != nil {
			return err
		}
		return s.recordHit(tx, l.Bucket, req.Now)
	})
}

func (s *Store) addAccount(tx *dbx.Tx, a store.Account, now time.Time) error {
	_, err := s.txExec(tx, insertAccount, dbx.Params{"user": a.User, "kdf": a.KDF, "verifier": a.Verifier,
		"rverifier": a.RecoveryVerifier, "wrapped": a.WrappedKey, "rwrapped": a.RecoveryWrappedKey, "now": ms(now)})
	return err
}

func (s *Store) addSession(tx *dbx.Tx, user string, sess store.Session) error {
	_, err := s.txExec(tx, insertSession, dbx.Params{"token": sess.Token, "user": user, "expires": ms(sess.Expires)})
	return err
}

// lockAccount locks the user row (PostgreSQL) and reports ErrNotFound unless
// the user has an account.
func (s *Store) lockAccount(tx *dbx.Tx, user string) error {
	var found string
	if err := s.txRow(tx, s.q.lockUser, dbx.Params{"user": user}, &found); err != nil {
		return err // no rows: unknown user
	}
	var n int
	if err := s.txRow(tx, hasAccount, dbx.Params{"user": user}, &n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// GetAccount implements store.Store.
func (s *Store) GetAccount(ctx context.Context, user string) (store.Account, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	a := store.Account{User: user}
	var created, updated int64
	err := s.readRow(ctx, `SELECT kdf, verifier, recovery_verifier, wrapped_key, recovery_wrapped_key, created, updated
		FROM accounts WHERE user_id = {:user}`, dbx.Params{"user": user},
		&a.KDF, &a.Verifier, &a.RecoveryVerifier, &a.WrappedKey, &a.RecoveryWrappedKey, &created, &updated)
	if err != nil {
		return store.Account{}, s.fail(err)
	}
	a.Created, a.Updated = fromMS(created), fromMS(updated)
	return a, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, sess store.Session, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		if err := s.lockAccount(tx, sess.User); err != nil {
			return err
		}
		// Logins add sessions; the expired ones go here rather than pile
		// up until the next prune.
		if _, err := s.txExec(tx, `DELETE FROM sessions WHERE user_id = {:user} AND expires <= {:now}`,
			dbx.Params{"user": sess.User, "now": ms(now)}); err != nil {
			return err
		}
		return s.addSession(tx, sess.User, sess)
	})
}

// SessionUser implements store.Store: one lookup by the primary key.
func (s *Store) SessionUser(ctx context.Context, token string, now time.Time) (string, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var user string
	err := s.readRow(ctx, sessionUser, dbx.Params{"token": token, "now": ms(now)}, &user)
	return user, s.fail(err)
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		res, err := s.txExec(tx, `DELETE FROM sessions WHERE token = {:token}`, dbx.Params{"token": token})
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// ChangeKeys implements store.Store. The condition on the verifier is part
// of the UPDATE itself, so of two changes that both checked the same old
// verifier exactly one applies: on PostgreSQL the second waits for the
// first's row lock and then finds the verifier changed.
func (s *Store) ChangeKeys(ctx context.Context, req store.KeyChange) error {
	expect := `verifier`
	if req.ByRecovery {
		expect = `recovery_verifier`
	}
	return s.tx(ctx, func(tx *dbx.Tx) error {
		if err := s.lockAccount(tx, req.User); err != nil {
			return err
		}
		k := req.Keys
		// Empty recovery material keeps the stored one (a password change).
		res, err := s.txExec(tx, `UPDATE accounts SET kdf = {:kdf}, verifier = {:verifier}, wrapped_key = {:wrapped},
			recovery_verifier = CASE WHEN {:rverifier} = '' THEN recovery_verifier ELSE {:rverifier} END,
			recovery_wrapped_key = CASE WHEN {:rwrapped} = '' THEN recovery_wrapped_key ELSE {:rwrapped} END,
			updated = {:now}
			WHERE user_id = {:user} AND `+expect+` = {:expect}`,
			dbx.Params{"kdf": k.KDF, "verifier": k.Verifier, "wrapped": k.WrappedKey, "rverifier": k.RecoveryVerifier,
				"rwrapped": k.RecoveryWrappedKey, "now": ms(req.Now), "user": req.User, "expect": req.Expect})
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		// Every session made with the old keys ends.
		if _, err := s.txExec(tx, `DELETE FROM sessions WHERE user_id = {:user}`, dbx.Params{"user": req.User}); err != nil {
			return err
		}
		return s.addSession(tx, req.User, req.Session)
	})
}

// UpgradeV1 implements store.Store. The backup is found first, so that a
// caller who proves no v1 key learns nothing of an account (ErrNotFound,
// as a v1 read); only then is the account's verifier compared. The move
// rewrites the backups row alone (its key, name and sealed v1 key):
// versions reference the row's id, so none is touched.
func (s *Store) UpgradeV1(ctx context.Context, req store.Upgrade) error {
	user := req.Account.User
	return s.tx(ctx, func(tx *dbx.Tx) error {
		var found string
		if err := s.txRow(tx, s.q.lockUser, dbx.Params{"user": user}, &found); err != nil {
			return err // no rows: unknown user, so no v1 backup either
		}
		p := dbx.Params{"user": user, "v1": req.V1Key, "key": req.Key, "name": req.Name}
		var v1ID string
		err := s.txRow(tx, `SELECT id FROM backups WHERE user_id = {:user} AND storage_key = {:v1} AND name = ''`, p, &v1ID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		hasV1 := err == nil
		// The target: the moved backup of a resumed upgrade, or another
		// backup already holding the key or the name.
		var movedKey, movedName string
		err = s.txRow(tx, `SELECT storage_key, name FROM backups WHERE user_id = {:user}
			AND (storage_key = {:key} OR (name = {:name} AND name <> '')) ORDER BY name DESC LIMIT 1`, p, &movedKey, &movedName)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		target := err == nil
		resumed := target && movedKey == req.Key && movedName == req.Name
		if !hasV1 && !resumed {
			return store.ErrNotFound
		}

		var verifier string
		err = s.txRow(tx, `SELECT verifier FROM accounts WHERE user_id = {:user}`, p, &verifier)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if exists := err == nil; exists {
			if subtle.ConstantTimeCompare([]byte(verifier), []byte(req.Account.Verifier)) != 1 {
				return store.ErrExists
			}
		} else if err := s.addAccount(tx, req.Account, req.Now); err != nil {
			return err
		}

		if hasV1 {
			if target {
				// The backupId is taken under this account already.
				return store.ErrExists
			}
			if _, err := s.txExec(tx, `UPDATE backups SET storage_key = {:key}, name = {:name}, legacy_key = {:legacy}
				WHERE id = {:id}`, dbx.Params{"key": req.Key, "name": req.Name, "legacy": req.LegacyKey, "id": v1ID}); err != nil {
				return err
			}
			// The backup's activity follows it.
			if _, err := s.txExec(tx, `UPDATE activity SET storage_key = {:key}
				WHERE user_id = {:user} AND storage_key = {:v1}`, p); err != nil {
				return err
			}
		}
		return s.addSession(tx, user, req.Session)
	})
}

// ListBackups implements store.Store.
func (s *Store) ListBackups(ctx context.Context, user string) ([]store.BackupInfo, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var n int
	if err := s.readRow(ctx, hasAccount, dbx.Params{"user": user}, &n); err != nil {
		return nil, s.fail(err)
	}
	if n == 0 {
		return nil, store.ErrNotFound
	}
	rows, err := s.read.NewQuery(s.q.listBackups).Bind(dbx.Params{"user": user}).WithContext(ctx).Rows()
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	out := []store.BackupInfo{}
	for rows.Next() {
		var b store.BackupInfo
		var at timeValue
		if err := rows.Scan(&b.Name, &b.Version, &b.Size, &at); err != nil {
			return nil, s.fail(err)
		}
		// The version rows keep milliseconds; PostgreSQL's column more.
		b.UpdatedAt = at.t.Truncate(time.Millisecond)
		out = append(out, b)
	}
	return out, s.fail(rows.Err())
}

// AccountUsage implements store.Store, from the covering indexes as Usage.
func (s *Store) AccountUsage(ctx context.Context, user string) (store.Usage, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var u store.Usage
	var one int
	err := s.read.NewQuery(`SELECT 1 FROM users WHERE id = {:user}`).Bind(dbx.Params{"user": user}).WithContext(ctx).Row(&one)
	if err != nil {
		return u, s.fail(err)
	}
	err = s.read.NewQuery(userUsage).Bind(dbx.Params{"user": user}).WithContext(ctx).Row(&u.Backups, &u.Versions, &u.BytesUsed)
	return u, s.fail(err)
}
