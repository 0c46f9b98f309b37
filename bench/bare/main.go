// Command bare is the benchmark's reference server: what a careful Go
// programmer writes by hand with net/http and SQLite (modernc, WAL) or
// PostgreSQL (pgx) to serve the same three calls as the backup server
// (register, save as an upsert, restore), and nothing else: no pepper, no
// limits, no logs, no history. Its throughput is the practical ceiling the
// real server is measured against.
//
// It is careful where any server must be: strict JSON (no unknown or
// trailing members), 64 lowercase hex ids, a save only for a registered user
// and only to a key that user owns, a data member that is the web client's
// envelope ({"encrypted", "nonce"}: base64, a 12-byte nonce), and the same
// response bodies as the real server.
//
// It opens SQLite with the same pragmas as the real server, and with the
// same synchronous=FULL unless -sync says otherwise, so that both pay the
// same price per commit; PostgreSQL (-pg DSN) with its defaults.
package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

const schema = `
CREATE TABLE IF NOT EXISTS users (
	id      TEXT PRIMARY KEY NOT NULL,
	created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backups (
	storage_key TEXT PRIMARY KEY NOT NULL,
	user_id     TEXT NOT NULL,
	data        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	updated     TEXT NOT NULL
)`

// maxBody matches the real server's cap on a save (5 MiB of data and room
// for the ids).
const maxBody = 5<<20 + 64<<10

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	dir := flag.String("dir", "", "data directory (required for SQLite)")
	sync := flag.String("sync", "FULL", "SQLite synchronous setting: FULL or NORMAL")
	pg := flag.String("pg", "", "a postgres:// URL: PostgreSQL instead of SQLite")
	flag.Parse()
	if (*dir == "" && *pg == "") || (*sync != "FULL" && *sync != "NORMAL") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*addr, filepath.Join(*dir, "bare.db"), *sync, *pg); err != nil {
		log.Fatal(err)
	}
}

func open(path, sync, pg string) (*server, error) {
	if pg != "" {
		db, err := sql.Open("pgx", pg)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		return &server{write: db, read: db, q: dollars}, nil
	}
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(" + sync + ")&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)"
	// SQLite has one writer at a time: a single write connection queues the
	// writers in Go instead of having them spin on SQLITE_BUSY; reads get a
	// pool of their own.
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	conns := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(conns)
	read.SetMaxIdleConns(conns)
	return &server{write: write, read: read, q: func(s string) string { return s }}, nil
}

// dollars numbers the ? placeholders for PostgreSQL.
func dollars(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func run(addr, path, sync, pg string) error {
	s, err := open(path, sync, pg)
	if err != nil {
		return err
	}
	for _, stmt := range strings.Split(schema, ";") {
		if _, err := s.write.Exec(stmt); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	s.prepare()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/register", s.register)
	mux.HandleFunc("POST /api/backup", s.save)
	mux.HandleFunc("GET /api/backup", s.restore)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if s.read != s.write {
		return errors.Join(s.write.Close(), s.read.Close())
	}
	return s.write.Close()
}

type server struct {
	write, read *sql.DB
	q           func(string) string // the driver's placeholders
	// The statements, in the driver's placeholders.
	qRegister, qSave, qOwner, qUpsert, qRestore string
}

func (s *server) prepare() {
	s.qRegister = s.q(`INSERT INTO users (id, created) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	// One statement checks that the user exists, upserts, and refuses a key
	// another user wrote first (PostgreSQL; see upsert).
	s.qSave = s.q(`INSERT INTO backups (storage_key, user_id, data, version, updated)
		SELECT ?, ?, ?, 1, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)
		ON CONFLICT (storage_key) DO UPDATE SET data = excluded.data, version = backups.version + 1, updated = excluded.updated
		WHERE backups.user_id = excluded.user_id
		RETURNING version`)
	s.qOwner = s.q(`SELECT 1 FROM users WHERE id = ?`)
	s.qUpsert = s.q(`INSERT INTO backups (storage_key, user_id, data, version, updated) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (storage_key) DO UPDATE SET data = excluded.data, version = backups.version + 1, updated = excluded.updated
		WHERE backups.user_id = excluded.user_id
		RETURNING version`)
	s.qRestore = s.q(`SELECT data, version, updated FROM backups WHERE storage_key = ? AND user_id = ?`)
}

type request struct {
	UserID     string `json:"userId"`
	StorageKey string `json:"storageKey"`
	Data       string `json:"data"`
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"userId"`
	}
	if !decode(w, r, &req) {
		return
	}
	if !isID(req.UserID) {
		fail(w, http.StatusBadRequest, "userId must be 64 lowercase hex characters.")
		return
	}
	res, err := s.write.ExecContext(r.Context(), s.qRegister, req.UserID, now())
	if err != nil {
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		fail(w, http.StatusConflict, "This user is already registered.")
		return
	}
	reply(w, map[string]bool{"success": true})
}

func (s *server) save(w http.ResponseWriter, r *http.Request) {
	var req request
	if !decode(w, r, &req) {
		return
	}
	if !isID(req.UserID) || !isID(req.StorageKey) {
		fail(w, http.StatusBadRequest, "userId and storageKey must be 64 lowercase hex characters.")
		return
	}
	if !isEnvelope(req.Data) {
		fail(w, http.StatusBadRequest, "data is not a valid envelope.")
		return
	}
	at := now()
	version, err := s.upsert(r.Context(), req, at)
	if errors.Is(err, sql.ErrNoRows) {
		// Either the user does not exist or the key is another user's.
		var one int
		if s.read.QueryRowContext(r.Context(), s.qOwner, req.UserID).Scan(&one) != nil {
			fail(w, http.StatusNotFound, "No such user.")
		} else {
			fail(w, http.StatusForbidden, "This storage key belongs to another user.")
		}
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
	reply(w, struct {
		Success   bool   `json:"success"`
		UpdatedAt string `json:"updatedAt"`
		Version   int64  `json:"version"`
	}{true, at, version})
}

// upsert saves req for its user, sql.ErrNoRows when the user does not exist
// or the key is another user's. On PostgreSQL one statement checks the user
// and upserts (one round trip). On SQLite the same statement (INSERT …
// SELECT … WHERE EXISTS) cost 80 ms of CPU per 1 MB save, so the user is
// checked first in the same transaction and the upsert takes its VALUES.
func (s *server) upsert(ctx context.Context, req request, at string) (int64, error) {
	var version int64
	if s.read == s.write {
		err := s.write.QueryRowContext(ctx, s.qSave, req.StorageKey, req.UserID, req.Data, at, req.UserID).Scan(&version)
		return version, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, s.qOwner, req.UserID).Scan(&one); err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, s.qUpsert, req.StorageKey, req.UserID, req.Data, at).Scan(&version)
	if err != nil {
		return 0, err
	}
	return version, tx.Commit()
}

func (s *server) restore(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, key := q.Get("userId"), q.Get("storageKey")
	if !isID(user) || !isID(key) || len(q) != 2 {
		fail(w, http.StatusBadRequest, "userId and storageKey must be 64 lowercase hex characters.")
		return
	}
	var out struct {
		Data      string `json:"data"`
		UpdatedAt string `json:"updatedAt"`
		Version   int64  `json:"version"`
	}
	err := s.read.QueryRowContext(r.Context(), s.qRestore, key, user).Scan(&out.Data, &out.Version, &out.UpdatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		fail(w, http.StatusNotFound, "No backup was found for this user and password.")
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	w.Header().Set("ETag", `"`+strconv.FormatInt(out.Version, 10)+`"`)
	reply(w, out)
}

// decode reads one JSON object with only dst's members and nothing after it.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "The backup is too large.")
		} else {
			fail(w, http.StatusBadRequest, "The request body is not valid JSON.")
		}
		return false
	}
	return true
}

func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isEnvelope checks the web client's envelope: exactly "encrypted" and
// "nonce", standard base64, a 12-byte nonce.
func isEnvelope(data string) bool {
	var env struct {
		Encrypted *string `json:"encrypted"`
		Nonce     *string `json:"nonce"`
	}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if dec.Decode(&env) != nil || env.Encrypted == nil || env.Nonce == nil || *env.Encrypted == "" {
		return false
	}
	if _, extra := dec.Token(); extra != io.EOF {
		return false
	}
	nonce, err := base64.StdEncoding.DecodeString(*env.Nonce)
	if err != nil || len(nonce) != 12 {
		return false
	}
	_, err = base64.StdEncoding.DecodeString(*env.Encrypted)
	return err == nil
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") }
