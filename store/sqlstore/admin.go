package sqlstore

import (
	"context"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// DeleteBackup implements store.Store.
func (s *Store) DeleteBackup(ctx context.Context, user, key string) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		// Locks the user row as saves do (PostgreSQL), so that a delete and
		// a save of one user queue: otherwise a save can find its backup gone
		// between its read and its write (a 412 for a save that set no
		// condition), or add a backup while the delete removes the user.
		var found string
		if err := tx.NewQuery(s.q.lockUser).Bind(dbx.Params{"user": user}).Row(&found); err != nil {
			return err // no rows: unknown user
		}
		if err := s.owns(ctx, tx, user, key); err != nil {
			return err
		}
		p := dbx.Params{"user": user, "key": key}
		for _, stmt := range []string{
			`DELETE FROM backup_versions WHERE backup_id IN
				(SELECT id FROM backups WHERE user_id = {:user} AND storage_key = {:key})`,
			`DELETE FROM activity WHERE user_id = {:user} AND storage_key = {:key}`,
			`DELETE FROM backups WHERE user_id = {:user} AND storage_key = {:key}`,
			// The user goes once no backup of theirs is left, unless they
			// have an account, which outlives its backups.
			`DELETE FROM activity WHERE user_id = {:user} AND NOT EXISTS (SELECT 1 FROM backups WHERE user_id = {:user})
				AND NOT EXISTS (SELECT 1 FROM accounts WHERE user_id = {:user})`,
			`DELETE FROM users WHERE id = {:user} AND NOT EXISTS (SELECT 1 FROM backups WHERE user_id = {:user})
				AND NOT EXISTS (SELECT 1 FROM accounts WHERE user_id = {:user})`,
		} {
			if _, err := tx.NewQuery(stmt).Bind(p).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// CheckFingerprint implements store.Store.
func (s *Store) CheckFingerprint(ctx context.Context, fp string) (bool, error) {
	var stored string
	err := s.tx(ctx, func(tx *dbx.Tx) error {
		p := dbx.Params{"fp": fp}
		_, err := tx.NewQuery(`INSERT INTO dailyreps_meta (key, value) VALUES ('pepper_fingerprint', {:fp})
			ON CONFLICT DO NOTHING`).Bind(p).Execute()
		if err != nil {
			return err
		}
		return tx.NewQuery(`SELECT value FROM dailyreps_meta WHERE key = 'pepper_fingerprint'`).Row(&stored)
	})
	return err == nil && stored == fp, err
}

// CreateInvite implements store.Store.
func (s *Store) CreateInvite(ctx context.Context, code string, expires, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.NewQuery(`INSERT INTO invites (code, created, expires) VALUES ({:code}, {:now}, {:expires})`).
			Bind(dbx.Params{"code": code, "now": ms(now), "expires": ms(expires)}).Execute()
		return err
	})
}

// UseInvite implements store.Store.
func (s *Store) UseInvite(ctx context.Context, code, user string, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		res, err := tx.NewQuery(`DELETE FROM invites WHERE code = {:code} AND expires > {:now}`).
			Bind(dbx.Params{"code": code, "now": ms(now)}).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return s.insertUser(tx, user, now) // ErrExists rolls the invite back
	})
}

// Prune implements store.Store. Nothing it drops is older than a day's
// window plus a margin, except sessions, which are dropped once expired.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		p := dbx.Params{"now": ms(now), "old": ms(now.Add(-25 * time.Hour)), "day": unixDay(now) - 40}
		for _, stmt := range []string{
			`DELETE FROM replays WHERE expires < {:now}`,
			`DELETE FROM rate_limits WHERE at < {:old}`,
			`DELETE FROM sessions WHERE expires <= {:now}`,
			`DELETE FROM invites WHERE expires < {:now}`,
			`DELETE FROM usage_daily WHERE day < {:day}`,
		} {
			if _, err := tx.NewQuery(stmt).Bind(p).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rekey implements store.Store. Versions reference their backup by an id
// that holds no pepper, so no row holding a blob is rewritten. The creating
// addresses' tags cannot be carried over (only their truncated hashes are
// stored): they are cleared, and backups made before the rotation then count
// against the per-user limit only.
func (s *Store) Rekey(ctx context.Context, rekey func(string) string, fingerprint string) error {
	return s.tx(ctx, func(tx *dbx.Tx) error {
		// Sessions go first: a session's token is kept only peppered, so
		// it cannot be carried over, and on PostgreSQL it references the
		// account's id rewritten below. Everyone signs in again.
		if _, err := tx.NewQuery(`DELETE FROM sessions`).Execute(); err != nil {
			return err
		}
		for _, col := range []struct{ table, column string }{
			{"users", "id"}, {"backups", "user_id"}, {"backups", "storage_key"},
			{"activity", "user_id"}, {"activity", "storage_key"},
			// Verifiers are pepper chains like ids: the rotated pepper
			// computes the rekeyed value from the same derived key.
			{"accounts", "user_id"}, {"accounts", "verifier"}, {"accounts", "recovery_verifier"},
		} {
			if err := rekeyColumn(tx, col.table, col.column, rekey); err != nil {
				return err
			}
		}
		for _, stmt := range []string{`DELETE FROM replays`, `DELETE FROM rate_limits`, `UPDATE backups SET creator = ''`,
			`UPDATE dailyreps_meta SET value = {:fp} WHERE key = 'pepper_fingerprint'`} {
			if _, err := tx.NewQuery(stmt).Bind(dbx.Params{"fp": fingerprint}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

func rekeyColumn(tx *dbx.Tx, table, column string, rekey func(string) string) error {
	var ids []string
	if err := tx.NewQuery(`SELECT DISTINCT ` + column + ` FROM ` + table + ` WHERE ` + column + ` <> ''`).Column(&ids); err != nil {
		return err
	}
	for _, id := range ids {
		_, err := tx.NewQuery(`UPDATE ` + table + ` SET ` + column + ` = {:new} WHERE ` + column + ` = {:old}`).
			Bind(dbx.Params{"new": rekey(id), "old": id}).Execute()
		if err != nil {
			return err
		}
	}
	return nil
}
