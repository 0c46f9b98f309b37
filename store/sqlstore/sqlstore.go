// Package sqlstore implements store.Store once, in SQL that SQLite and
// PostgreSQL both speak, over dbx. The two backends (store/sqlite,
// store/postgres) open their database, create their schema and hand over a
// Dialect for the few places where the two differ.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// Dialect is what differs between the backends.
type Dialect struct {
	// Column names of the creation and update times of users and backups.
	Created, Updated string
	// TimeArg encodes a time for those columns.
	TimeArg func(time.Time) any
	// LockUser is appended to the SELECT of a user row inside a save, so
	// that saves of one user queue across instances ("FOR UPDATE").
	LockUser string
	// LockUserBackup, when set, is a save's first statement in one round
	// trip: it locks the user row as LockUser does and then, in a snapshot
	// taken after the lock, returns the backup's id, its newest version and
	// the bytes its versions hold ({:user}, {:key}; NULLs: no backup, and
	// the bytes may be NULL where AddVersion weighs them itself; no row: no
	// user). Unset, one query joins them, which is right only where
	// transactions run one at a time (SQLite's single writer).
	LockUserBackup string
	// AddVersion, when set, does what addVersion does in one statement (a
	// function of the schema) with the parameters {:id}, {:current},
	// {:size}, {:at}, {:data}, {:depth}, {:quota} and {:now}, and returns
	// the new version (0: the backup moved on) and how many versions it
	// dropped: on PostgreSQL each statement is a round trip.
	AddVersion string
	// SaveExisting, when set, is a save of an existing backup as one
	// statement (its own transaction): see save_existing.go for its
	// parameters and the outcome, versions and oldest hit it returns.
	SaveExisting string
	// LockBucket, when set, is run with {:bucket} before a Hit is counted,
	// so that instances do not both pass a limit.
	LockBucket string
	// Classify turns driver errors into the store's closed set where it can.
	Classify func(error) error
	// Retry reports an error after which the database rolled the whole
	// transaction back to break a deadlock or a serialization conflict:
	// running it again is safe and is what the caller wants (nil: never).
	Retry func(error) bool
}

// txAttempts bounds how often one transaction is run when Retry says so.
const txAttempts = 3

// Store is the shared implementation. Reads go to read, every transaction to
// write; for SQLite these are PocketBase's two pools, for PostgreSQL one.
type Store struct {
	read    dbx.Builder
	write   *dbx.DB
	d       Dialect
	timeout time.Duration
	closer  func() error
	q       queries
	// The request paths' statements, prepared (see prepared.go).
	readStmts, writeStmts *stmtCache
}

var _ store.Store = (*Store)(nil)

// New builds a Store. timeout bounds every call (0: none); closer is called by
// Close (nil: nothing to close).
func New(read dbx.Builder, write *dbx.DB, d Dialect, timeout time.Duration, closer func() error) *Store {
	return &Store{read: read, write: write, d: d, timeout: timeout, closer: closer, q: buildQueries(d),
		readStmts: newStmtCache(read), writeStmts: newStmtCache(write)}
}

// Close releases the database when the Store owns it.
func (s *Store) Close() error {
	s.readStmts.close()
	s.writeStmts.close()
	if s.closer == nil {
		return nil
	}
	return s.closer()
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// tx runs f in one transaction on the write connection.
func (s *Store) tx(ctx context.Context, f func(tx *dbx.Tx) error) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	// The statements inside take their context from the DB they are built
	// on, not from the transaction: without WithContext they would run
	// unbounded, and the transaction's own deadline would wait for them.
	var err error
	for range txAttempts {
		err = s.write.WithContext(ctx).TransactionalContext(ctx, nil, f)
		// dbx reports a failed rollback beside its cause in a type errors.Is
		// cannot see into.
		if errs, ok := err.(dbx.Errors); ok {
			err = errors.Join(errs...)
		}
		// Deletes and the activity recorder's batches touch one user's
		// activity rows in different orders; PostgreSQL then aborts one side.
		if err == nil || s.d.Retry == nil || !s.d.Retry(err) || ctx.Err() != nil {
			break
		}
	}
	return s.fail(err)
}

// fail maps an error to the closed set, passing the set's own errors through.
func (s *Store) fail(err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if s.d.Classify != nil {
		return s.d.Classify(err)
	}
	return err
}

func isDomain(err error) bool {
	var le *store.LimitError
	var se *store.StaleError
	for _, e := range []error{store.ErrNotFound, store.ErrExists, store.ErrQuota,
		store.ErrReplay, store.ErrUnavailable, store.ErrNoSpace, store.ErrBadQuery, store.ErrAccount} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.As(err, &le) || errors.As(err, &se)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// pbTimeLayout is how PocketBase stores dates in SQLite.
const pbTimeLayout = "2006-01-02 15:04:05.000Z"

// PBTime encodes a time as PocketBase stores it in SQLite.
func PBTime(t time.Time) any { return t.UTC().Format(pbTimeLayout) }
