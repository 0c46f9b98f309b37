package sqlstore

import (
	"context"

	"github.com/pocketbase/dbx"
)

// CountBackups implements store.Store.
func (s *Store) CountBackups(ctx context.Context, user string) (int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var n int64
	err := s.read.NewQuery(`SELECT COUNT(*) FROM backups WHERE user_id = {:user}`).
		Bind(dbx.Params{"user": user}).WithContext(ctx).Row(&n)
	return n, s.fail(err)
}
