package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/pepper"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/sqlite"
)

// A rotation keeps every backup, its history and its activity, under the
// new pepper only: with a pepper file (replaced) and with DAILYREPS_PEPPER
// (the new value printed for the operator).
func TestRotatePepper(t *testing.T) {
	for _, fromEnv := range []bool{false, true} {
		t.Run(map[bool]string{false: "pepper file", true: "DAILYREPS_PEPPER"}[fromEnv], func(t *testing.T) {
			s := servertest.New(t, rotationConfig(func(c *config.Config) {
				if !fromEnv {
					c.Pepper = nil
				}
			}))
			saved := fillServer(t, s)
			s.Stop()
			dir, cfg := s.App.DataDir(), s.Config
			oldKeys := currentKeys(t, dir, cfg)

			out, err := runRotatePepper(t, dir, cfg)
			if err != nil {
				t.Fatalf("rotate-pepper: %v\n%s", err, out)
			}
			newKeys := rotatedKeys(t, dir, cfg, out)
			if len(newKeys) != len(oldKeys)+1 || !bytes.Equal(newKeys[0], oldKeys[0]) {
				t.Fatalf("the new pepper is not the old one plus a key (%d keys, was %d)", len(newKeys), len(oldKeys))
			}

			after := restart(t, dir, cfg, newKeys)
			saved.check(t, after)

			_, err = servertest.Start(t, servertest.WithDataDir(dir), rotationConfig(func(c *config.Config) {
				c.DatabaseURL, c.Pepper = cfg.DatabaseURL, oldKeys
			}))
			if err == nil || !strings.Contains(err.Error(), "pepper does not match") {
				t.Fatalf("start with the old pepper: %v", err)
			}
		})
	}
}

// A rotation interrupted after the database was re-keyed (the server then
// refuses to start) is finished by running the command again; one
// interrupted before the re-key (the server still starts) starts over.
func TestRotatePepperResumes(t *testing.T) {
	for _, rekeyed := range []bool{true, false} {
		t.Run(map[bool]string{true: "after the re-key", false: "before the re-key"}[rekeyed], func(t *testing.T) {
			s := servertest.New(t, rotationConfig(func(c *config.Config) { c.Pepper = nil }))
			saved := fillServer(t, s)
			s.Stop()
			dir, cfg := s.App.DataDir(), s.Config
			path := filepath.Join(dir, pepper.FileName)
			stale := interruptRotation(t, dir, cfg, rekeyed)

			early, err := servertest.Start(t, servertest.WithDataDir(dir), rotationConfig(func(c *config.Config) {
				c.DatabaseURL, c.Pepper = cfg.DatabaseURL, nil
			}))
			if rekeyed && (err == nil || !strings.Contains(err.Error(), "rotate-pepper")) {
				t.Fatalf("start after an interrupted re-key: %v", err)
			}
			if !rekeyed {
				if err != nil {
					t.Fatalf("start after a rotation interrupted before its re-key: %v", err)
				}
				early.Stop()
			}

			out, err := runRotatePepper(t, dir, cfg)
			if err != nil {
				t.Fatalf("rotate-pepper: %v\n%s", err, out)
			}
			if resumed := strings.Contains(out, "interrupted rotation"); resumed != rekeyed {
				t.Fatalf("finished the interrupted run: %v, want %v\n%s", resumed, rekeyed, out)
			}
			if _, err := os.Stat(path + pepper.PendingSuffix); !os.IsNotExist(err) {
				t.Fatalf("the pending pepper is still there: %v", err)
			}
			got, _ := os.ReadFile(path)
			if finished := string(got) == stale.Format(); finished != rekeyed {
				t.Fatalf("the pepper file holds the interrupted run's pepper: %v, want %v\n%s", finished, rekeyed, out)
			}
			saved.check(t, restart(t, dir, cfg, nil))
		})
	}
}

// Neither the configured pepper nor a pending one: the command changes
// nothing and says why.
func TestRotatePepperWrongPepper(t *testing.T) {
	s := servertest.New(t, rotationConfig(nil))
	saved := fillServer(t, s)
	s.Stop()
	dir, cfg := s.App.DataDir(), s.Config

	wrong := cfg
	wrong.Pepper = [][]byte{bytes.Repeat([]byte{7}, pepper.KeySize)}
	if out, err := runRotatePepper(t, dir, wrong); err == nil || !strings.Contains(err.Error(), "pepper does not match") {
		t.Fatalf("rotate-pepper with the wrong pepper: %v\n%s", err, out)
	}
	saved.check(t, restart(t, dir, cfg, cfg.Pepper))
}

// rotationConfig turns off the limits that would get in the way of filling
// a server, then applies edit.
func rotationConfig(edit func(*config.Config)) servertest.Option {
	return servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0, 0
		if edit != nil {
			edit(c)
		}
	})
}

// restart serves dir (and the same PostgreSQL database) with keys (nil: the
// pepper file).
func restart(t *testing.T, dir string, cfg config.Config, keys [][]byte) *servertest.Server {
	t.Helper()
	return servertest.New(t, servertest.WithDataDir(dir), rotationConfig(func(c *config.Config) {
		c.DatabaseURL, c.Pepper = cfg.DatabaseURL, keys
	}))
}

// runRotatePepper runs "rotate-pepper" as the binary does.
func runRotatePepper(t *testing.T, dataDir string, cfg config.Config) (string, error) {
	t.Helper()
	out, _, err := runCommand(t, dataDir, cfg, "rotate-pepper")
	return out, err
}

// interruptRotation leaves dir as a run that stopped just before replacing
// the pepper file would (rekeyed), or just before the re-key, and returns
// the pending pepper.
func interruptRotation(t *testing.T, dir string, cfg config.Config, rekeyed bool) *pepper.Pepper {
	t.Helper()
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDataDir: dir, DBConnect: sqlite.DBConnect})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	ctx := context.Background()
	st, current, err := openStore(ctx, app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	next, err := current.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if err := pepper.WriteFile(filepath.Join(dir, pepper.FileName)+pepper.PendingSuffix, next); err != nil {
		t.Fatal(err)
	}
	if rekeyed {
		if err := st.Rekey(ctx, next.Rekey, next.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	return next
}

// currentKeys are the keys the server ran with.
func currentKeys(t *testing.T, dir string, cfg config.Config) [][]byte {
	t.Helper()
	if len(cfg.Pepper) > 0 {
		return cfg.Pepper
	}
	return keysOf(t, readPepperFile(t, filepath.Join(dir, pepper.FileName)))
}

// rotatedKeys reads the new pepper where the operator would find it: the
// pepper file, or the DAILYREPS_PEPPER line of the output, parsed as the
// server parses its environment.
func rotatedKeys(t *testing.T, dir string, cfg config.Config, out string) [][]byte {
	t.Helper()
	path := filepath.Join(dir, pepper.FileName)
	if len(cfg.Pepper) == 0 {
		if _, err := os.Stat(path + pepper.PendingSuffix); !os.IsNotExist(err) {
			t.Fatalf("the pending pepper is still there: %v", err)
		}
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("pepper file: %v, %v", info, err)
		}
		return keysOf(t, readPepperFile(t, path))
	}
	var value string
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "DAILYREPS_PEPPER="); ok {
			value = v
		}
	}
	c, err := config.Load(func(name string) string {
		if name == "DAILYREPS_PEPPER" {
			return value
		}
		return ""
	})
	if err != nil || len(c.Pepper) == 0 {
		t.Fatalf("the printed DAILYREPS_PEPPER is not accepted: %v\n%s", err, out)
	}
	// The pending copy stays for the operator and holds the same pepper.
	if pending := readPepperFile(t, path+pepper.PendingSuffix); pending.EnvValue() != value {
		t.Fatal("the pending pepper file differs from the printed value")
	}
	return c.Pepper
}

func readPepperFile(t *testing.T, path string) *pepper.Pepper {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pepper.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// keysOf reads the keys back through the environment format.
func keysOf(t *testing.T, p *pepper.Pepper) [][]byte {
	t.Helper()
	c, err := config.Load(func(name string) string {
		if name == "DAILYREPS_PEPPER" {
			return p.EnvValue()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.Pepper
}

// backupState is what a server held before a rotation: every version of
// every backup as saved, and the versions list and activity log as served.
type backupState struct {
	backups []savedBackup
}

type savedBackup struct {
	user, key string
	versions  []string // data of version i+1
	list      string   // GET /api/backup/versions body
	activity  string   // GET /api/backup/activity body
}

// fillServer saves backups with history for two users, restores one and
// fails a lookup against the other, and records what the server then holds.
func fillServer(t *testing.T, s *servertest.Server) *backupState {
	t.Helper()
	st := &backupState{backups: []savedBackup{
		{user: servertest.ID("ana"), key: servertest.ID("ana key")},
		{user: servertest.ID("ana"), key: servertest.ID("ana second key")},
		{user: servertest.ID("ben"), key: servertest.ID("ben key")},
	}}
	for _, user := range []string{servertest.ID("ana"), servertest.ID("ben")} {
		expect(t, s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": user}}), http.StatusOK)
	}
	for i := range st.backups {
		b := &st.backups[i]
		for range 3 - i {
			data := randomEnvelope(t)
			expect(t, s.Do(servertest.Request{Method: "POST", Path: "/api/backup",
				Body: map[string]string{"userId": b.user, "storageKey": b.key, "data": data}}), http.StatusOK)
			b.versions = append(b.versions, data)
		}
	}
	expect(t, s.Do(getBackup(st.backups[0], 0)), http.StatusOK)
	expect(t, s.Do(getBackup(savedBackup{user: st.backups[2].user, key: servertest.ID("a guess")}, 0)), http.StatusNotFound)

	// Events reach the store once a second: wait for all eight.
	deadline := time.Now().Add(15 * time.Second)
	for events(t, s, st.backups[0])+events(t, s, st.backups[1])+events(t, s, st.backups[2]) != 8 {
		if time.Now().After(deadline) {
			t.Fatal("the activity log never held the eight events")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range st.backups {
		b := &st.backups[i]
		b.list = string(expect(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/versions" + query(*b)}), http.StatusOK))
		b.activity = string(expect(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/activity" + query(*b)}), http.StatusOK))
	}
	return st
}

// check proves that s serves exactly what was saved: the activity log and
// the versions list as before, and every version byte for byte.
func (st *backupState) check(t *testing.T, s *servertest.Server) {
	t.Helper()
	// Activity first: the restores below add to it.
	for _, b := range st.backups {
		if got := string(expect(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/activity" + query(b)}), http.StatusOK)); got != b.activity {
			t.Errorf("activity changed:\n%s\nwas\n%s", got, b.activity)
		}
		if got := string(expect(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/versions" + query(b)}), http.StatusOK)); got != b.list {
			t.Errorf("versions changed:\n%s\nwas\n%s", got, b.list)
		}
	}
	for _, b := range st.backups {
		for i, want := range b.versions {
			var got struct {
				Data    string `json:"data"`
				Version int64  `json:"version"`
			}
			if err := json.Unmarshal(expect(t, s.Do(getBackup(b, i+1)), http.StatusOK), &got); err != nil {
				t.Fatal(err)
			}
			if got.Data != want || got.Version != int64(i+1) {
				t.Errorf("version %d of a backup does not restore byte for byte", i+1)
			}
		}
	}
}

// events counts the events in b's activity log.
func events(t *testing.T, s *servertest.Server, b savedBackup) int64 {
	t.Helper()
	var body struct{ Events []struct{ Count int64 } }
	if err := json.Unmarshal(expect(t, s.Do(servertest.Request{Method: "GET", Path: "/api/backup/activity" + query(b)}), http.StatusOK), &body); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range body.Events {
		n += e.Count
	}
	return n
}

func query(b savedBackup) string { return "?userId=" + b.user + "&storageKey=" + b.key }

func getBackup(b savedBackup, version int) servertest.Request {
	path := "/api/backup" + query(b)
	if version > 0 {
		path += fmt.Sprintf("&version=%d", version)
	}
	return servertest.Request{Method: "GET", Path: path}
}

func expect(t *testing.T, r *servertest.Response, status int) []byte {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r.Body
}

// randomEnvelope is a well-formed data value with random content, so that
// no two versions are alike.
func randomEnvelope(t *testing.T) string {
	t.Helper()
	ct := make([]byte, 64)
	nonce := make([]byte, 12)
	_, _ = rand.Read(ct)
	_, _ = rand.Read(nonce)
	b, err := json.Marshal(map[string]string{"encrypted": base64.StdEncoding.EncodeToString(ct), "nonce": base64.StdEncoding.EncodeToString(nonce)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
