package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/dailyreps/backup/store"
)

// errPending marks the protocol v2 storage until it is written.
var errPending = errors.New("sqlstore: protocol v2 storage is not written yet")

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, req store.NewAccount) error { return errPending }

// GetAccount implements store.Store.
func (s *Store) GetAccount(ctx context.Context, user string) (store.Account, error) {
	return store.Account{}, errPending
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, sess store.Session, now time.Time) error {
	return errPending
}

// SessionUser implements store.Store.
func (s *Store) SessionUser(ctx context.Context, token string, now time.Time) (string, error) {
	return "", errPending
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, token string) error { return errPending }

// ChangeKeys implements store.Store.
func (s *Store) ChangeKeys(ctx context.Context, req store.KeyChange) error { return errPending }

// UpgradeV1 implements store.Store.
func (s *Store) UpgradeV1(ctx context.Context, req store.Upgrade) error { return errPending }

// ListBackups implements store.Store.
func (s *Store) ListBackups(ctx context.Context, user string) ([]store.BackupInfo, error) {
	return nil, errPending
}

// AccountUsage implements store.Store.
func (s *Store) AccountUsage(ctx context.Context, user string) (store.Usage, error) {
	return store.Usage{}, errPending
}
