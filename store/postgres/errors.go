package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeDiskFull             = "53100"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeLockNotAvailable     = "55P03" // lock_timeout
	codeReadOnlyTransaction  = "25006" // a standby after failover
	codeIOError              = "58030"

	classConnection           = "08"
	classInsufficientResource = "53" // too many connections, out of memory
	classOperatorIntervention = "57" // shutdown, crash recovery, statement and idle timeouts
)

// classify wraps the errors that mean "not now" in store.ErrUnavailable, and
// a full disk in store.ErrNoSpace, so callers answer 503 (or 507) rather than
// 500. The message is the driver's; it never carries the statement.
func classify(err error) error {
	if k := kind(err); k != nil {
		return fmt.Errorf("%w: %w", k, err)
	}
	return err
}

func kind(err error) error {
	// dbx reports a failed rollback beside the error that caused it, in a
	// type errors.Is cannot see into; the cause comes first.
	var errs dbx.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			if k := kind(e); k != nil {
				return k
			}
		}
		return nil
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: only its verdict counts.
		switch code := pgErr.Code; {
		case code == codeDiskFull:
			return store.ErrNoSpace
		case unavailableCode(code):
			return store.ErrUnavailable
		}
		return nil
	}

	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err),
		// pgx's word that the statement never reached the server.
		pgconn.SafeToRetry(err):
		return store.ErrUnavailable
	}
	return nil
}

func unavailableCode(code string) bool {
	switch code {
	case codeSerializationFailure, codeDeadlockDetected, codeLockNotAvailable, codeReadOnlyTransaction, codeIOError:
		return true
	}
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case classConnection, classInsufficientResource, classOperatorIntervention:
		return true
	}
	return false
}

// abortedToRetry reports a transaction PostgreSQL aborted to break a deadlock
// (40P01) or a serialization conflict (40001): run again, it goes through.
func abortedToRetry(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
