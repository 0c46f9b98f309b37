// Package postgres is the PostgreSQL backend: the shared SQL of package
// sqlstore over a pgx connection pool, with its schema created by versioned
// migrations embedded in the binary. Several instances may share one
// database; the store's locks (the user row, per-bucket advisory locks) keep
// its limits exact across them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/sqlstore"
)

// Options tune the pool. A zero field takes the default it documents.
type Options struct {
	// MaxConns bounds the connections this instance opens (default 10). All
	// instances together must stay under the server's max_connections.
	MaxConns int
	// ConnectTimeout bounds each new connection and the first ping (default
	// 5s). A connect_timeout in the DSN, or PGCONNECT_TIMEOUT, takes precedence.
	ConnectTimeout time.Duration
	// QueryTimeout bounds every store call (0: none).
	QueryTimeout time.Duration
}

const (
	defaultMaxConns       = 10
	defaultConnectTimeout = 5 * time.Second

	// Connections are recycled so that none outlives a failover or a DNS
	// change for long, and idle ones are dropped before a proxy or firewall
	// silently cuts them.
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute

	// appName identifies the service in pg_stat_activity unless the DSN (or
	// PGAPPNAME) names it.
	appName = "dailyreps-backup"
)

// dialect lacks Classify, which each store binds to its own pool's health.
var dialect = sqlstore.Dialect{
	Created:  "created_at",
	Updated:  "updated_at",
	TimeArg:  func(t time.Time) any { return t.UTC() },
	LockUser: "FOR UPDATE",
	// 0006_save_existing.sql.
	SaveExisting: `SELECT outcome, new_version, pruned_count, current_version, oldest_hit FROM save_existing_backup(
		{:user}, {:key}, {:ifMatch}, {:version}, {:size}, {:at}, {:data}, {:depth}, {:quota}, {:now},
		{:bucket}, {:perHour}, {:perDay})`,
	// 0005_add_version.sql.
	// The bytes are left NULL: AddVersion weighs the quota itself.
	LockUserBackup: `SELECT backup_id, backup_version, NULL::bigint FROM lock_user_backup({:user}, {:key})`,
	AddVersion: `SELECT new_version, pruned_count FROM add_backup_version({:id}, {:current}, {:size}, {:at},
		{:data}, {:depth}, {:quota}, {:now})`,
	// hashtext yields an int4, so these keys never meet migrationLock, which
	// lies outside that range.
	LockBucket: "SELECT pg_advisory_xact_lock(hashtext({:bucket}))",
}

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, used as given: TLS, hosts and every other setting are
// the DSN's), checks that it answers, brings its schema up to date and returns
// the store, which owns the pool. An unreachable database is reported as
// store.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts Options) (*sqlstore.Store, error) {
	cfg, err := connConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	// The pool is built from the parsed config rather than from dsn, so that
	// connConfig's defaults apply without rewriting the caller's string.
	h := new(health)
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(h.shouldPing))
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxLifetime(connMaxLifetime)
	sqlDB.SetConnMaxIdleTime(connMaxIdleTime)
	db := dbx.NewFromDB(sqlDB, "pgx")

	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = sqlDB.PingContext(pingCtx)
	cancel()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", classify(err))
	}
	if err := runMigrations(ctx, sqlDB); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", classify(err))
	}
	d := dialect
	d.Classify = h.classify
	d.Retry = abortedToRetry
	return sqlstore.New(db, db, d, opts.QueryTimeout, db.Close), nil
}

// health spares callers most of the failures a server restart or failover
// causes. Every pooled connection is then dead, but the pool only learns so
// when a call fails on it: up to one failed call per connection. Once a call
// has failed for want of the database, connections idle since then are
// pinged before use instead, and the pool replaces those that do not answer.
type health struct {
	lastFailure atomic.Int64 // Unix nanoseconds
}

func (h *health) classify(err error) error {
	err = classify(err)
	if errors.Is(err, store.ErrUnavailable) {
		h.lastFailure.Store(time.Now().UnixNano())
	}
	return err
}

func (h *health) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	// pgx's own rule: a connection idle for over a second may have gone.
	if p.IdleDuration > time.Second {
		return true
	}
	return time.Now().Add(-p.IdleDuration).UnixNano() <= h.lastFailure.Load()
}

// connConfig parses dsn and fills in what it leaves unset: the connect
// timeout and the application name.
func connConfig(dsn string, opts Options) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from the DSN it quotes.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// A connect_timeout of 0 (wait forever) reads the same as none; a
	// service should not hang at start on a database that never answers.
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = defaultConnectTimeout
		}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = appName
	}
	return cfg, nil
}
