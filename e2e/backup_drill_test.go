package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/pepper"
)

const (
	drillAdmin    = "admin@example.com"
	drillPassword = "a long admin password"
)

// drillEnv starts servers with a generated pepper file (the binary's
// default) and without the per-address bucket, which the drills' few
// requests from one address would exhaust.
var drillEnv = []string{"DAILYREPS_PEPPER=", "DAILYREPS_IP_BURST=0"}

// drillData saves a few backups and returns what each key holds: two users,
// one with two versions.
func drillData(t *testing.T, p *process) map[[2]string]string {
	t.Helper()
	saved := map[[2]string]string{}
	for _, u := range []struct{ user, key string }{{"drill-ana", "drill-ana-key"}, {"drill-ben", "drill-ben-key"}} {
		user, key := hexID(u.user), hexID(u.key)
		p.expect(t, registerRequest(user, nil), http.StatusOK)
		for v := 1; v <= 2; v++ {
			data := sealedData(strings.Repeat(u.user+" v"+string(rune('0'+v))+" ", 500))
			p.expect(t, saveRequest(user, key, data, nil), http.StatusOK)
			saved[[2]string{user, key}] = data
			if u.user == "drill-ben" {
				break
			}
		}
	}
	return saved
}

func expectDrillData(t *testing.T, p *process, saved map[[2]string]string) {
	t.Helper()
	for k, data := range saved {
		version := int64(2)
		if k[0] == hexID("drill-ben") {
			version = 1
		}
		expectBackup(t, p, k[0], k[1], nil, data, version)
	}
}

// createAdmin runs `superuser upsert` on the data directory of a running
// server, as the docs say, and signs in.
func createAdmin(t *testing.T, p *process) string {
	t.Helper()
	if out, err := runCLI(t, nil, "superuser", "upsert", drillAdmin, drillPassword, "--dir", p.DataDir); err != nil {
		t.Fatalf("superuser upsert: %v %s", err, out)
	}
	resp := adminCall(t, p, "", "POST", "/api/collections/_superusers/auth-with-password",
		map[string]string{"identity": drillAdmin, "password": drillPassword}, http.StatusOK)
	var auth struct{ Token string }
	if err := json.Unmarshal(resp, &auth); err != nil || auth.Token == "" {
		t.Fatalf("sign-in: %s", resp)
	}
	return auth.Token
}

// adminCall calls PocketBase's own API as a superuser.
func adminCall(t *testing.T, p *process, token, method, path string, body any, want int) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

// archiveNames lists a backup archive and checks that it holds the data and
// not the pepper.
func archiveNames(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if strings.HasPrefix(filepath.Base(f.Name), pepper.FileName) {
			t.Fatalf("the backup archive holds the pepper (%s)", f.Name)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "data.db") {
		t.Fatalf("the backup archive holds no data.db: %v", names)
	}
	return names
}

func extract(t *testing.T, archive, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("archive entry %q escapes the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		src, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(src)
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The restore drill of docs/self-hosting.md, after losing the whole data
// directory: back up with PocketBase (the archive leaves the pepper out),
// keep the pepper apart, wipe, restore the archive, and the server refuses
// to start until the pepper is back; then every backup comes back byte for
// byte.
func TestRestoreDrill(t *testing.T) {
	offsite := t.TempDir() // stands for S3 or another machine
	p := start(t, "", drillEnv...)
	saved := drillData(t, p)
	token := createAdmin(t, p)

	// 1. Back up: an archive (here on demand; the schedule makes them daily).
	adminCall(t, p, token, "POST", "/api/backups", map[string]string{"name": "drill.zip"}, http.StatusNoContent)
	archive := filepath.Join(offsite, "drill.zip")
	if err := copyFile(filepath.Join(p.DataDir, "backups", "drill.zip"), archive); err != nil {
		t.Fatal(err)
	}
	archiveNames(t, archive)
	// 2. Keep the pepper apart from the archive.
	savedPepper := filepath.Join(offsite, pepper.FileName)
	if err := copyFile(filepath.Join(p.DataDir, pepper.FileName), savedPepper); err != nil {
		t.Fatal(err)
	}

	// 3. The machine is lost.
	p.kill()
	if err := os.RemoveAll(p.DataDir); err != nil {
		t.Fatal(err)
	}

	// 4. Restore the archive into a new data directory.
	restored := t.TempDir()
	extract(t, archive, restored)

	// Without the pepper the data is unreadable, and the server says so.
	out, err := serveUntilExit(t, restored, drillEnv...)
	if err == nil || !strings.Contains(out, "pepper does not match") {
		t.Fatalf("started on restored data without its pepper: %v %s", err, out)
	}

	// 5. Put the pepper back and start: the same bytes come back.
	if err := copyFile(savedPepper, filepath.Join(restored, pepper.FileName)); err != nil {
		t.Fatal(err)
	}
	p2 := start(t, restored, drillEnv...)
	expectDrillData(t, p2, saved)
	if n := superusers(t, restored); n != 1 {
		t.Fatalf("%d admins after the restore, want 1", n)
	}
}

// serveUntilExit runs serve on dataDir and returns its output once it exits,
// for starts that must fail.
func serveUntilExit(t *testing.T, dataDir string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "--http", freeAddr(t), "--dir", dataDir)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DAILYREPS_PEPPER=" + testPepper, "DAILYREPS_MIN_FREE_DISK_BYTES=0"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The dashboard's restore (Settings > Backups > Restore) on a live server:
// PocketBase swaps the data directory and restarts the process. The pepper
// file stays where it is, and what was backed up comes back.
func TestRestoreFromDashboard(t *testing.T) {
	p := start(t, "", drillEnv...)
	saved := drillData(t, p)
	token := createAdmin(t, p)
	pepperBefore, err := os.ReadFile(filepath.Join(p.DataDir, pepper.FileName))
	if err != nil {
		t.Fatal(err)
	}
	adminCall(t, p, token, "POST", "/api/backups", map[string]string{"name": "before.zip"}, http.StatusNoContent)

	// Damage after the backup: one user deletes everything.
	ben, benKey := hexID("drill-ben"), hexID("drill-ben-key")
	p.expect(t, apiRequest{method: "DELETE", path: "/api/user", body: map[string]string{"userId": ben, "storageKey": benKey}}, http.StatusOK)
	p.expect(t, getRequest("/api/backup", ben, benKey, nil), http.StatusNotFound)

	adminCall(t, p, token, "POST", "/api/backups/before.zip/restore", nil, http.StatusNoContent)
	// The process restarts itself; the restored data answers once it is up.
	probe := &http.Client{Timeout: time.Second}
	restoredPath := p.URL + "/api/backup?userId=" + ben + "&storageKey=" + benKey
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restored backup did not come back: %s", p.output())
		}
		select {
		case <-p.done:
			t.Fatalf("the server exited during the restore: %s", p.output())
		default:
		}
		if resp, err := probe.Get(restoredPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
	}
	expectDrillData(t, p, saved)
	pepperAfter, err := os.ReadFile(filepath.Join(p.DataDir, pepper.FileName))
	if err != nil || !bytes.Equal(pepperBefore, pepperAfter) {
		t.Fatalf("the restore changed the pepper file (%v)", err)
	}
}
