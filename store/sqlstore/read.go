package sqlstore

import (
	"context"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// GetBackup implements store.Store: one indexed lookup of the metadata row
// and one of the version row.
func (s *Store) GetBackup(ctx context.Context, user, key string, version int64) (store.Backup, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	p := dbx.Params{"user": user, "key": key, "version": version}
	var b store.Backup
	var atMS int64
	stmt := s.q.getNewest
	if version > 0 {
		stmt = s.q.getAtVer
	}
	err := s.readRow(ctx, stmt, p, &b.Data, &b.Version, &atMS, &b.LegacyKey)
	b.UpdatedAt = fromMS(atMS)
	return b, s.fail(err)
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, user, key string) ([]store.VersionInfo, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.read.NewQuery(listVersions).Bind(dbx.Params{"user": user, "key": key}).WithContext(ctx).Rows()
	if err != nil {
		return nil, s.fail(err)
	}
	defer rows.Close()
	var out []store.VersionInfo
	for rows.Next() {
		var v store.VersionInfo
		var atMS int64
		if err := rows.Scan(&v.Version, &atMS, &v.Size); err != nil {
			return nil, s.fail(err)
		}
		v.UpdatedAt = fromMS(atMS)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err)
	}
	if len(out) == 0 { // a backup always has its newest version
		return nil, store.ErrNotFound
	}
	return out, nil
}

// Usage implements store.Store.
func (s *Store) Usage(ctx context.Context, user, key string) (store.Usage, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var u store.Usage
	if err := s.owns(ctx, s.read, user, key); err != nil {
		return u, err
	}
	err := s.read.NewQuery(userUsage).Bind(dbx.Params{"user": user}).WithContext(ctx).Row(&u.Backups, &u.Versions, &u.BytesUsed)
	return u, s.fail(err)
}

// owns reports store.ErrNotFound unless key is a backup of user.
func (s *Store) owns(ctx context.Context, db dbx.Builder, user, key string) error {
	var one int
	err := db.NewQuery(`SELECT 1 FROM backups WHERE user_id = {:user} AND storage_key = {:key}`).
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
