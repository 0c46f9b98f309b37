package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/postgres"
	"github.com/dailyreps/backup/store/sqlite"
)

// OpenStore opens the configured backend and the pepper, and refuses to go
// on when the pepper is not the one the database was written with: answering
// 404 to every user would look like data loss. The app must be bootstrapped
// and its migrations applied.
func OpenStore(ctx context.Context, app core.App, cfg config.Config) (store.Store, *pepper.Pepper, error) {
	path := PepperPath(app, cfg)
	p, created, err := pepper.Load(cfg.Pepper, path)
	if err != nil {
		return nil, nil, err
	}
	st, err := openBackend(ctx, app, cfg)
	if err == nil {
		var ok bool
		ok, err = st.CheckFingerprint(ctx, p.Fingerprint())
		if err == nil && !ok {
			err = pepper.ErrMismatch
		}
		if err != nil {
			_ = st.Close()
		}
	}
	if err != nil {
		// A pepper generated just now for a database that already has one
		// (a restore started without its pepper) must not stay behind.
		if created {
			_ = os.Remove(path)
		}
		return nil, nil, err
	}
	return st, p, nil
}

// PepperPath is where the pepper file lives when DAILYREPS_PEPPER is unset.
func PepperPath(app core.App, cfg config.Config) string {
	if cfg.PepperFile != "" {
		return cfg.PepperFile
	}
	return filepath.Join(app.DataDir(), pepper.FileName)
}

func openBackend(ctx context.Context, app core.App, cfg config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return openPostgres(ctx, cfg)
	}
	st, err := sqlite.New(app, cfg.DBQueryTimeout)
	if err != nil {
		return nil, fmt.Errorf("open SQLite store: %w", err)
	}
	return st, nil
}

func openPostgres(ctx context.Context, cfg config.Config) (store.Store, error) {
	st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{
		MaxConns: cfg.DBMaxConns, ConnectTimeout: cfg.DBConnectTimeout, QueryTimeout: cfg.DBQueryTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return st, nil
}
