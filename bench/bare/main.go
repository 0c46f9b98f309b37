// Command bare is the benchmark's reference server: what a careful Go
// programmer writes by hand with net/http and SQLite (modernc, WAL) to serve
// the same three calls as the backup server (register, save as an upsert,
// restore), and nothing else: no pepper, no limits, no logs, no history. Its
// throughput is the practical ceiling the real server is measured against.
//
// It opens its database with the same pragmas as the real server, and with
// the same synchronous=FULL unless -sync says otherwise, so that both pay the
// same price per commit.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

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
);`

// maxBody matches the real server's cap on a save (5 MiB of data and room
// for the ids).
const maxBody = 5<<20 + 64<<10

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	dir := flag.String("dir", "", "data directory (required)")
	sync := flag.String("sync", "FULL", "SQLite synchronous setting: FULL or NORMAL")
	flag.Parse()
	if *dir == "" || (*sync != "FULL" && *sync != "NORMAL") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*addr, filepath.Join(*dir, "bare.db"), *sync); err != nil {
		log.Fatal(err)
	}
}

func run(addr, path, sync string) error {
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(" + sync + ")&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)"
	// SQLite has one writer at a time: a single write connection queues the
	// writers in Go instead of having them spin on SQLITE_BUSY; reads get a
	// pool of their own.
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	conns := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(conns)
	read.SetMaxIdleConns(conns)
	if _, err := write.Exec(schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}

	s := &server{write: write, read: read}
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
	return errors.Join(write.Close(), read.Close())
}

type server struct {
	write, read *sql.DB
}

type saveRequest struct {
	UserID     string `json:"userId"`
	StorageKey string `json:"storageKey"`
	Data       string `json:"data"`
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	var req saveRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.UserID) != 64 {
		fail(w, http.StatusBadRequest, "userId must be 64 hex characters.")
		return
	}
	_, err := s.write.ExecContext(r.Context(), `INSERT INTO users (id, created) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		req.UserID, now())
	if err != nil {
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	reply(w, map[string]bool{"success": true})
}

func (s *server) save(w http.ResponseWriter, r *http.Request) {
	var req saveRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.UserID) != 64 || len(req.StorageKey) != 64 || req.Data == "" {
		fail(w, http.StatusBadRequest, "userId, storageKey and data are required.")
		return
	}
	at := now()
	var version int64
	// One statement upserts and refuses a key another user wrote first.
	err := s.write.QueryRowContext(r.Context(), `INSERT INTO backups (storage_key, user_id, data, version, updated)
		VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (storage_key) DO UPDATE SET data = excluded.data, version = backups.version + 1, updated = excluded.updated
		WHERE backups.user_id = excluded.user_id
		RETURNING version`, req.StorageKey, req.UserID, req.Data, at).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		fail(w, http.StatusConflict, "This storage key belongs to another user.")
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	reply(w, struct {
		Success   bool   `json:"success"`
		UpdatedAt string `json:"updatedAt"`
		Version   int64  `json:"version"`
	}{true, at, version})
}

func (s *server) restore(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var out struct {
		Data      string `json:"data"`
		UpdatedAt string `json:"updatedAt"`
		Version   int64  `json:"version"`
	}
	err := s.read.QueryRowContext(r.Context(), `SELECT data, version, updated FROM backups WHERE storage_key = ? AND user_id = ?`,
		q.Get("storageKey"), q.Get("userId")).Scan(&out.Data, &out.Version, &out.UpdatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		fail(w, http.StatusNotFound, "No backup found.")
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	reply(w, out)
}

func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(dst); err != nil {
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
