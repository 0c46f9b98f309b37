package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// retryable stands for pgx's errors that report a statement never sent.
type retryable struct{}

func (retryable) Error() string     { return "conn closed" }
func (retryable) SafeToRetry() bool { return true }

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	for _, c := range []struct {
		name string
		err  error
		want error // nil: returned unchanged
	}{
		{"disk full", pg("53100"), store.ErrNoSpace},
		{"connection failure", pg("08006"), store.ErrUnavailable},
		{"admin shutdown", pg("57P01"), store.ErrUnavailable},
		{"crash shutdown", pg("57P02"), store.ErrUnavailable},
		{"cannot connect now", pg("57P03"), store.ErrUnavailable},
		{"statement timeout", pg("57014"), store.ErrUnavailable},
		{"too many connections", pg("53300"), store.ErrUnavailable},
		{"out of memory", pg("53200"), store.ErrUnavailable},
		{"serialization failure", pg("40001"), store.ErrUnavailable},
		{"deadlock", pg("40P01"), store.ErrUnavailable},
		{"lock timeout", pg("55P03"), store.ErrUnavailable},
		{"read-only standby", pg("25006"), store.ErrUnavailable},
		{"io error", pg("58030"), store.ErrUnavailable},
		{"unique violation", pg("23505"), nil},
		{"syntax error", pg("42601"), nil},
		{"no code", pg(""), nil},
		{"bad conn", driver.ErrBadConn, store.ErrUnavailable},
		{"conn done", sql.ErrConnDone, store.ErrUnavailable},
		{"conn closed", fmt.Errorf("receive: %w", pgconn.ErrConnClosed), store.ErrUnavailable},
		{"eof", io.EOF, store.ErrUnavailable},
		{"unexpected eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.ErrUnavailable},
		{"deadline", context.DeadlineExceeded, store.ErrUnavailable},
		{"not sent", retryable{}, store.ErrUnavailable},
		{"rollback failed after a lost connection", dbx.Errors{pg("57P01"), sql.ErrConnDone}, store.ErrUnavailable},
		{"rollback failed after disk full", dbx.Errors{pg("53100"), driver.ErrBadConn}, store.ErrNoSpace},
		{"rollback failed after other errors", dbx.Errors{errors.New("a"), errors.New("b")}, nil},
		{"other", errors.New("boom"), nil},
	} {
		got := classify(c.err)
		if c.want == nil {
			// dbx.Errors is a slice, so compare what the caller can see.
			if errors.Is(got, store.ErrUnavailable) || errors.Is(got, store.ErrNoSpace) || got.Error() != c.err.Error() {
				t.Errorf("%s: classify(%v) = %v, want it unchanged", c.name, c.err, got)
			}
			continue
		}
		if !errors.Is(got, c.want) || got.Error() != c.want.Error()+": "+c.err.Error() {
			t.Errorf("%s: classify(%v) = %v, want it wrapped in %v", c.name, c.err, got, c.want)
		}
		if _, isList := c.err.(dbx.Errors); !isList && !errors.Is(got, c.err) {
			t.Errorf("%s: classify(%v) = %v, which hides the cause", c.name, c.err, got)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestAbortedToRetry(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	for code, want := range map[string]bool{"40P01": true, "40001": true, "23505": false, "53100": false} {
		if got := abortedToRetry(fmt.Errorf("wrapped: %w", pg(code))); got != want {
			t.Errorf("abortedToRetry(%s) = %v, want %v", code, got, want)
		}
	}
	if abortedToRetry(errors.New("deadlock detected")) {
		t.Error("a plain error was taken for an aborted transaction")
	}
}
