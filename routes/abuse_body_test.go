package routes_test

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

const dataCap = 5 << 20 // DAILYREPS_MAX_BACKUP_BYTES by default

func TestDataCapIsExact(t *testing.T) {
	s := newServer(t)
	if s.Config.MaxBackupBytes != dataCap {
		t.Fatalf("default cap %d, this test assumes %d", s.Config.MaxBackupBytes, dataCap)
	}
	u, k := id("capped"), id("capped-key")
	register(t, s, u)
	full := sizedData(t, dataCap, 'f')
	save(t, s, u, k, full)
	if got := get(s, u, k).JSON(t)["data"]; got != full {
		t.Fatal("the 5 MiB backup did not come back whole")
	}
	before := s.Snapshot()
	expectError(t, s.Do(saveReq(u, k, sizedData(t, dataCap+1, 'o'))), http.StatusRequestEntityTooLarge)
	s.Unchanged(before)

	// The cap follows the setting.
	small := newServer(t, func(c *config.Config) { c.MaxBackupBytes = 1000 })
	register(t, small, u)
	save(t, small, u, k, sizedData(t, 1000, 'a'))
	before = small.Snapshot()
	expectError(t, small.Do(saveReq(u, k, sizedData(t, 1001, 'b'))), http.StatusRequestEntityTooLarge)
	small.Unchanged(before)
}

// post sends body to path with a real client that writes the whole body
// before reading the answer (as a browser's fetch does), and reports how many
// body bytes the server let it write. A negative length sends it chunked.
func post(t *testing.T, s *servertest.Server, path string, body io.Reader, length int64) (*http.Response, []byte, int64, error) {
	t.Helper()
	counted := &countingReader{r: body}
	var rd io.Reader = counted
	req, err := http.NewRequest("POST", s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if length < 0 {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, counted.n.Load(), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, counted.n.Load(), err
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// junkBody streams n bytes of a JSON-looking body without holding them.
func junkBody(n int64) io.Reader {
	head := `{"userId":"` + id("big") + `","storageKey":"` + id("big-key") + `","data":"`
	return io.MultiReader(strings.NewReader(head), io.LimitReader(repeatByte('A'), n-int64(len(head))))
}

type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func expect413(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 (%.200s)", resp.StatusCode, body)
	}
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil || m["error"] == "" || len(m) != 1 {
		t.Fatalf("413 body is not the JSON error shape: %q", body)
	}
}

// Up to twice the cap, the server reads the rest of an oversized body so
// that the client, still sending, gets a clean 413 and not a reset.
func TestOversizedBodyGetsACleanAnswer(t *testing.T) {
	s := newServer(t)
	u := id("big")
	register(t, s, u)
	before := s.Snapshot()
	for _, size := range []int64{6 << 20, 8 << 20, 10 << 20} {
		for _, chunked := range []bool{false, true} {
			length := size
			if chunked {
				length = -1
			}
			resp, body, written, err := post(t, s, "/api/backup", junkBody(size), length)
			if err != nil {
				t.Fatalf("%d bytes (chunked %v): %v after %d bytes", size, chunked, err, written)
			}
			expect413(t, resp, body)
			if written != size {
				t.Fatalf("%d bytes (chunked %v): only %d written", size, chunked, written)
			}
			s.Unchanged(before)
		}
	}
	// Small-bodied routes have small caps.
	resp, body, _, err := post(t, s, "/api/register", junkBody(64<<10), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	expect413(t, resp, body)
	s.Unchanged(before)
}

// A 50 MB body is cut off: the server stops reading soon after the cap and
// closes the connection instead of taking it all in.
func TestHugeBodyIsCutOff(t *testing.T) {
	s := newServer(t)
	register(t, s, id("big"))
	before := s.Snapshot()
	const size = 50_000_000
	for _, length := range []int64{size, -1} {
		resp, body, written, err := post(t, s, "/api/backup", junkBody(size), length)
		if err == nil {
			expect413(t, resp, body)
		}
		// What the server drains (twice the cap) plus what the two sockets'
		// buffers take in before the close is noticed.
		if written >= size/2 {
			t.Fatalf("length %d: the client wrote %d of %d bytes: the server read it all", length, written, size)
		}
		t.Logf("length %d: the client wrote %d bytes before the server cut it off (%v)", length, written, err)
		s.Unchanged(before)
	}
	// The server is fine afterwards.
	save(t, s, id("big"), id("small-key"), envelope(32, 's'))
}

// Twenty concurrent 50 MB uploads, with and without a declared length, leave
// the heap far below what buffering them would take.
func TestMemoryFlatUnderOversizedUploads(t *testing.T) {
	s := newServer(t)
	register(t, s, id("big"))
	before := s.Snapshot()
	const uploads, size = 20, 50_000_000

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	var written atomic.Int64
	for i := range uploads {
		length := int64(size)
		if i%2 == 1 {
			length = -1
		}
		wg.Go(func() {
			resp, body, n, err := post(t, s, "/api/backup", junkBody(size), length)
			written.Add(n)
			if err == nil && resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("upload answered %d: %.200s", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled

	growth := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by %d MiB at most; clients wrote %d MiB in all", growth>>20, written.Load()>>20)
	// Buffering would take 20 x 50 MB. The server holds at most one capped
	// body per large upload it reads at a time; twice that leaves room for
	// the collector's slack.
	bodyCap := int64(dataCap + 64<<10)
	if limit := 2 * int64(s.Config.MaxLargeUploads) * bodyCap; growth > limit {
		t.Fatalf("heap in use grew by %d MiB under %d oversized uploads (limit %d MiB)", growth>>20, uploads, limit>>20)
	}
	s.Unchanged(before)
}
