package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// GetBackup implements store.Store.
func (s *Store) GetBackup(ctx context.Context, user, key string, version int64) (store.Backup, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	p := dbx.Params{"user": user, "key": key, "version": version}
	var b store.Backup
	var at timeValue
	stmt := s.q.getNewest
	if version > 0 {
		stmt = s.q.getNewestAtVersion
	}
	err := s.readRow(ctx, stmt, p, &b.Data, &b.Version, &at)
	if version > 0 && errors.Is(err, sql.ErrNoRows) {
		var atMS int64
		err = s.read.NewQuery(`SELECT encrypted_data, version, updated FROM backup_history
			WHERE storage_key = {:key} AND user_id = {:user} AND version = {:version}`).
			Bind(p).WithContext(ctx).Row(&b.Data, &b.Version, &atMS)
		at.t = fromMS(atMS)
	}
	b.UpdatedAt = at.t
	return b, s.fail(err)
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, user, key string) ([]store.VersionInfo, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	p := dbx.Params{"user": user, "key": key}
	var newest store.VersionInfo
	var at timeValue
	if err := s.read.NewQuery(s.q.listNewest).Bind(p).WithContext(ctx).Row(&newest.Version, &at, &newest.Size); err != nil {
		return nil, s.fail(err)
	}
	newest.UpdatedAt = at.t
	rows, err := s.read.NewQuery(`SELECT version, updated, size FROM backup_history
		WHERE storage_key = {:key} AND user_id = {:user} ORDER BY version DESC`).Bind(p).WithContext(ctx).Rows()
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	out := []store.VersionInfo{newest}
	for rows.Next() {
		var v store.VersionInfo
		var atMS int64
		if err := rows.Scan(&v.Version, &atMS, &v.Size); err != nil {
			return nil, s.fail(err)
		}
		v.UpdatedAt = fromMS(atMS)
		out = append(out, v)
	}
	return out, s.fail(rows.Err())
}

// Usage implements store.Store.
func (s *Store) Usage(ctx context.Context, user, key string) (store.Usage, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var u store.Usage
	if err := s.owns(ctx, s.read, user, key); err != nil {
		return u, err
	}
	p := dbx.Params{"user": user}
	err := s.read.NewQuery(`SELECT
			(SELECT COUNT(*) FROM backups WHERE user_id = {:user}),
			(SELECT COUNT(*) FROM backups WHERE user_id = {:user}) + (SELECT COUNT(*) FROM backup_history WHERE user_id = {:user})`).
		Bind(p).WithContext(ctx).Row(&u.Backups, &u.Versions)
	if err == nil {
		err = s.read.NewQuery(userBytes).Bind(p).WithContext(ctx).Row(&u.BytesUsed)
	}
	return u, s.fail(err)
}

// owns reports store.ErrNotFound unless key is a backup of user.
func (s *Store) owns(ctx context.Context, db dbx.Builder, user, key string) error {
	var one int
	err := db.NewQuery(`SELECT 1 FROM backups WHERE storage_key = {:key} AND user_id = {:user}`).
		Bind(dbx.Params{"user": user, "key": key}).WithContext(ctx).Row(&one)
	return s.fail(err)
}

// Ping implements store.Store with a real round trip through the schema.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var n int
	return s.fail(s.read.NewQuery(`SELECT COUNT(*) FROM dailyreps_meta`).WithContext(ctx).Row(&n))
}
