package server_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/sqlite"
)

// After a save, a restore, a failed guess and a mistyped path, neither the
// SQLite files nor PocketBase's log database hold the userId, the storageKey
// or the plaintext, in any letter case.
func TestNoSecretsAtRest(t *testing.T) {
	s := servertest.New(t)
	c := &client.Client{BaseURL: s.URL}
	id, err := client.Derive("leak-test-user", "a password")
	if err != nil {
		t.Fatal(err)
	}
	acct := client.NewAccountWithIdentity(c, id)
	ctx := context.Background()
	plaintext := []byte(`{"exercises":[{"name":"leak-canary-squats","reps":[5,5,5]}]}`)
	if err := acct.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := acct.SaveDocument(ctx, plaintext); err != nil {
		t.Fatal(err)
	}
	got, err := acct.RestoreDocument(ctx)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("restore = %q, %v", got, err)
	}
	creds := id.Credentials
	q := "?userId=" + creds.UserID + "&storageKey=" + creds.StorageKey
	for _, path := range []string{"/api/backup" + q + "&version=99", "/api/backup/" + q, "/api/nothing" + q, "/api/backup?USERID=" + creds.UserID} {
		s.Do(servertest.Request{Method: "GET", Path: path})
	}
	var pgRows []byte
	if servertest.Postgres() {
		pgRows = s.DumpPostgres()
		if !bytes.Contains(pgRows, []byte("encrypted")) {
			t.Fatal("the PostgreSQL dump holds no backup: nothing was checked")
		}
	}
	s.Stop() // flushes PocketBase's batched logs

	secrets := []string{creds.UserID, creds.StorageKey, strings.ToUpper(creds.UserID), strings.ToUpper(creds.StorageKey),
		"leak-canary-squats", "leak-test-user"}
	files := 0
	err = filepath.WalkDir(s.App.DataDir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a secret (%.12s…)", filepath.Base(path), secret)
			}
		}
		return nil
	})
	if err != nil || files < 2 {
		t.Fatalf("walked %d files: %v", files, err)
	}
	for _, secret := range secrets {
		if bytes.Contains(pgRows, []byte(secret)) {
			t.Errorf("the PostgreSQL tables hold a secret (%.12s…)", secret)
		}
	}
	// The test can fail: the logs were written, with the routes in them.
	aux := readAll(t, filepath.Join(s.App.DataDir(), "auxiliary.db"), filepath.Join(s.App.DataDir(), "auxiliary.db-wal"))
	if !bytes.Contains(aux, []byte("GET /api/backup")) {
		t.Fatal("the request log holds no API request: nothing was checked")
	}
}

func readAll(t *testing.T, paths ...string) []byte {
	var out []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// A restart with another pepper refuses to start instead of answering 404
// to every user.
func TestWrongPepperRefusesToStart(t *testing.T) {
	s := servertest.New(t)
	s.Stop()
	dir, db := s.App.DataDir(), s.Config.DatabaseURL
	_, err := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithConfig(func(c *config.Config) {
		c.Pepper = [][]byte{bytes.Repeat([]byte{7}, 32)}
		c.DatabaseURL = db
	}))
	if err == nil || !strings.Contains(err.Error(), "pepper does not match") {
		t.Fatalf("start with the wrong pepper: %v", err)
	}
	// The right pepper still starts.
	if _, err := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithConfig(func(c *config.Config) {
		c.DatabaseURL = db
	})); err != nil {
		t.Fatalf("start with the right pepper: %v", err)
	}
}

// Without DAILYREPS_PEPPER a pepper file is generated on first start, kept
// private, reused afterwards, and left out of PocketBase's backups.
func TestGeneratedPepperFile(t *testing.T) {
	noPepper := servertest.WithConfig(func(c *config.Config) { c.Pepper = nil })
	s := servertest.New(t, noPepper)
	path := filepath.Join(s.App.DataDir(), pepper.FileName)
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("pepper file: %v, %v", info, err)
	}
	first, _ := os.ReadFile(path)

	if err := s.App.CreateBackup(context.Background(), "test.zip"); err != nil {
		t.Fatal(err)
	}
	zip := readAll(t, filepath.Join(s.App.DataDir(), "backups", "test.zip"))
	if len(zip) == 0 || bytes.Contains(zip, []byte(pepper.FileName)) {
		t.Fatalf("backup archive (%d bytes) includes the pepper file", len(zip))
	}

	s.Stop()
	db := s.Config.DatabaseURL
	s2 := servertest.New(t, noPepper, servertest.WithDataDir(s.App.DataDir()),
		servertest.WithConfig(func(c *config.Config) { c.DatabaseURL = db }))
	second, _ := os.ReadFile(filepath.Join(s2.App.DataDir(), pepper.FileName))
	if !bytes.Equal(first, second) {
		t.Fatal("the pepper file changed across restarts")
	}
}

// A start without the pepper, on a database that has one on record, is
// refused and leaves no generated pepper file behind.
func TestMissingPepperFileLeavesNoWrongOne(t *testing.T) {
	s := servertest.New(t) // the pepper comes from the configuration
	s.Stop()
	dir := s.App.DataDir()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir, DBConnect: sqlite.DBConnect})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.ClearBootstrap() }()
	cfg := s.Config
	cfg.Pepper = nil
	_, _, err := server.OpenStore(context.Background(), app, cfg)
	if !errors.Is(err, pepper.ErrMismatch) {
		t.Fatalf("open without the pepper: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pepper.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a generated pepper file was left behind: %v", err)
	}
}
