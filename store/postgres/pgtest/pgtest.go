// Package pgtest gives tests a private PostgreSQL schema to open a store on,
// so that tests, and packages tested in parallel, share one database without
// seeing each other's rows, and a proxy (Proxy) to take that database away
// and bring it back. Only tests import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test database's DSN, for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "DAILYREPS_TEST_DATABASE_URL"

// DSN skips t unless EnvDSN is set, and otherwise creates a fresh, empty
// schema in that database and returns a DSN whose connections use it (through
// search_path). The schema and everything in it are dropped when t ends:
// register the Close of stores opened on it with t.Cleanup after calling DSN,
// so that they close first.
//
// Those connections also carry the schema's name as application_name, so a
// test can find its own backends in pg_stat_activity, and only those.
func DSN(t testing.TB) string {
	t.Helper()
	SkipIfUnset(t)
	base := os.Getenv(EnvDSN)
	schema := "dr_test_" + randomHex()
	dsn, err := WithParams(base, map[string]string{"search_path": schema, "application_name": schema})
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvDSN, err)
	}
	ident := pgx.Identifier{schema}.Sanitize()
	if err := exec(base, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// SkipIfUnset skips t unless EnvDSN is set: once for a whole suite, rather
// than in each of its subtests.
//
// Where PostgreSQL must be tested (CI sets DAILYREPS_REQUIRE_POSTGRES=1), a
// missing DSN fails the test instead: a green run must not hide a skip.
func SkipIfUnset(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvDSN) != "" {
		return
	}
	if os.Getenv("DAILYREPS_REQUIRE_POSTGRES") == "1" {
		t.Fatal(EnvDSN + " is not set but DAILYREPS_REQUIRE_POSTGRES=1: PostgreSQL tests cannot be skipped here")
	}
	t.Skip(EnvDSN + " is not set: PostgreSQL tests skipped")
}

// WithParams returns dsn, a postgres:// URL or a keyword/value string, with
// the given settings (host and port included) added or replaced.
func WithParams(dsn string, params map[string]string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		// libpq, and pgx after it, read '+' in a URI as itself, where Go's
		// query functions read a space: '+' is escaped on the way in, and
		// spaces become %20 on the way out.
		q, err := url.ParseQuery(strings.ReplaceAll(u.RawQuery, "+", "%2B"))
		if err != nil {
			return "", err
		}
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String(), nil
	}
	// In a keyword/value string the last setting of a keyword wins.
	var b strings.Builder
	b.WriteString(dsn)
	for k, v := range params {
		b.WriteString(" " + k + "=" + quoteValue(v))
	}
	return b.String(), nil
}

// quoteValue quotes v for a keyword/value string where it must be.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// exec runs stmt on a short-lived connection of its own, apart from the
// pools of the stores under test.
func exec(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
