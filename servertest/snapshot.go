package servertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
)

// Snapshot renders everything the server stores about users and backups
// (ids, versions, a digest of each blob, history, invites), so that a test
// can prove a refused request changed nothing.
func (s *Server) Snapshot() string {
	s.t.Helper()
	db := s.DB()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id FROM users ORDER BY id`,
		`SELECT storage_key || ' ' || user_id || ' v' || CAST(version AS TEXT) || ' ' || creator FROM backups ORDER BY user_id, storage_key`,
		`SELECT b.storage_key || ' ' || b.user_id || ' v' || CAST(v.version AS TEXT) || ' ' || v.encrypted_data
			FROM backup_versions v JOIN backups b ON b.id = v.backup_id ORDER BY b.user_id, b.storage_key, v.version`,
		`SELECT code FROM invites ORDER BY code`,
		// Protocol v2: accounts, sessions, and backups' names and legacy keys.
		`SELECT user_id || ' ' || kdf || ' ' || verifier || ' ' || recovery_verifier || ' ' || wrapped_key || ' ' ||
			recovery_wrapped_key || ' ' || CAST(updated AS TEXT) FROM accounts ORDER BY user_id`,
		`SELECT token || ' ' || user_id || ' ' || CAST(expires AS TEXT) FROM sessions ORDER BY token`,
		`SELECT user_id || ' ' || storage_key || ' ' || name || ' ' || legacy_key FROM backups WHERE name != '' ORDER BY user_id, name`,
	} {
		var rows []string
		if err := db.NewQuery(q).Column(&rows); err != nil {
			s.t.Fatalf("snapshot: %v", err)
		}
		for _, r := range rows {
			// Digest the blobs: snapshots are compared, and printed on failure.
			h := sha256.Sum256([]byte(r))
			fmt.Fprintf(&b, "%s %s\n", r[:min(len(r), 140)], hex.EncodeToString(h[:8]))
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// Unchanged fails the test when the stored data differs from before.
func (s *Server) Unchanged(before string) {
	s.t.Helper()
	if after := s.Snapshot(); after != before {
		s.t.Fatalf("stored data changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// DB is the database the server's store uses: PocketBase's SQLite, or a
// connection to the PostgreSQL schema.
func (s *Server) DB() dbx.Builder {
	s.t.Helper()
	if s.Config.DatabaseURL == "" {
		return s.App.DB()
	}
	s.pgOnce.Do(func() {
		db, err := dbx.Open("pgx", s.Config.DatabaseURL)
		if err != nil {
			s.t.Fatalf("open PostgreSQL: %v", err)
		}
		s.pg = db
		s.t.Cleanup(func() { _ = db.Close() })
	})
	return s.pg
}

// DumpPostgres returns every row of every table in the server's PostgreSQL
// schema as JSON text, for the leak tests.
func (s *Server) DumpPostgres() []byte {
	s.t.Helper()
	return DumpSchema(s.t, s.DB())
}

// DumpSchema returns every row of every table in db's current schema as
// JSON text (PostgreSQL), failing the test when there is nothing to dump.
func DumpSchema(t testing.TB, db dbx.Builder) []byte {
	t.Helper()
	var tables []string
	err := db.NewQuery(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`).Column(&tables)
	if err != nil || len(tables) == 0 {
		t.Fatalf("list tables: %v (%d)", err, len(tables))
	}
	var out []byte
	for _, table := range tables {
		var rows []string
		if err := db.NewQuery(`SELECT row_to_json(t)::text FROM "` + table + `" t`).Column(&rows); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for _, r := range rows {
			out = append(out, r...)
			out = append(out, '\n')
		}
	}
	if len(out) == 0 {
		t.Fatal("the PostgreSQL schema is empty: nothing was checked")
	}
	return out
}
