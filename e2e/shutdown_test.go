package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest"
)

// SIGTERM in the middle of a slow multi-MiB upload: the server stops
// accepting connections, lets the upload finish and answer 200, and exits
// 0; a restart on the same data restores the upload byte for byte.
func TestSIGTERMLetsUploadFinish(t *testing.T) {
	env := suiteBackend(t).env()
	p := start(t, "", env...)
	user, key := hexID("shutdown-user"), hexID("shutdown-key")
	p.expect(t, registerRequest(user, nil), http.StatusOK)

	random := make([]byte, 1536<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	data := sealedData(hex.EncodeToString(random)) // 4 MiB, under the 5 MiB cap
	body, err := json.Marshal(map[string]string{"userId": user, "storageKey": key, "data": data})
	if err != nil {
		t.Fatal(err)
	}

	upload, answered := slowUpload(t, p.URL+"/api/backup", len(body))
	half := len(body) / 2
	upload.write(t, body[:half])

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, p)

	upload.write(t, body[half:])
	upload.close()
	res := <-answered
	if res.err != nil || res.status != http.StatusOK {
		t.Fatalf("the upload in flight during shutdown: %d %s %v\n%s", res.status, res.body, res.err, p.output())
	}

	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM: %s", p.output())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM: %s", code, p.output())
	}

	restarted := start(t, p.DataDir, env...)
	expectBackup(t, restarted, user, key, nil, data, 1)
}

type uploadResult struct {
	status int
	body   []byte
	err    error
}

// upload is a request whose body the test writes as it goes.
type upload struct {
	w *io.PipeWriter
}

// slowUpload starts a POST of size bytes whose body comes from upload.write.
func slowUpload(t *testing.T, url string, size int) (*upload, <-chan uploadResult) {
	t.Helper()
	r, w := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(size)
	req.Header.Set("Content-Type", "application/json")
	answered := make(chan uploadResult, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			answered <- uploadResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- uploadResult{status: resp.StatusCode, body: b, err: err}
	}()
	t.Cleanup(func() { _ = w.CloseWithError(io.ErrUnexpectedEOF) })
	return &upload{w: w}, answered
}

// write sends b in 64 KiB chunks with a pause between them, as a phone on a
// slow link would.
func (u *upload) write(t *testing.T, b []byte) {
	t.Helper()
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		if _, err := u.w.Write(b[:n]); err != nil {
			t.Fatalf("upload: %v", err)
		}
		b = b[n:]
		time.Sleep(2 * time.Millisecond)
	}
}

func (u *upload) close() { _ = u.w.Close() }

// waitRefused returns once the server no longer accepts connections: the
// shutdown has begun.
func waitRefused(t *testing.T, p *process) {
	t.Helper()
	addr := strings.TrimPrefix(p.URL, "http://")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatalf("still accepting connections after SIGTERM: %s", p.output())
}

// A realtime stream (the dashboard keeps one open) does not hold a shutdown
// until its deadline: it is closed, and no request is left in flight.
func TestSIGTERMClosesRealtimeStreams(t *testing.T) {
	p := start(t, "", append(suiteBackend(t).env(), "DAILYREPS_SHUTDOWN_TIMEOUT=20s")...)
	resp, err := http.Get(p.URL + "/api/realtime")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The stream is open once its first event (PB_CONNECT) arrives.
	first := make([]byte, 64)
	if n, err := resp.Body.Read(first); err != nil || !strings.Contains(string(first[:n]), "PB_CONNECT") {
		t.Fatalf("realtime stream: %q %v", first[:n], err)
	}

	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit code %d after SIGTERM: %s", code, p.output())
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Logf("realtime stream ended with %v", err)
	}
	for _, line := range logLines(t, p.DataDir) {
		if strings.Contains(line, "shutdown deadline passed") {
			t.Fatalf("the realtime stream held the shutdown to its deadline: %s", line)
		}
	}
}

// logLines is the message and data of each line in a stopped server's log.
func logLines(t *testing.T, dataDir string) []string {
	t.Helper()
	rows := servertest.LogRows(t, dataDir)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Message + " " + r.Data
	}
	if len(lines) == 0 {
		t.Fatal("the log is empty: nothing was checked")
	}
	return lines
}
