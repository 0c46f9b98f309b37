package routes_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// stall starts an upload from ip that declares length bytes, sends sent of
// them and then goes silent, keeping the connection open.
func stall(t *testing.T, s *servertest.Server, ip string, length, sent int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	host := strings.TrimPrefix(s.URL, "http://")
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /api/backup HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		host, length, strings.Repeat(" ", sent))
	return c
}

// answer reads the status line and headers the server sent on c, if any
// within wait.
func answer(c net.Conn, wait time.Duration) (*http.Response, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	return http.ReadResponse(bufio.NewReader(c), nil)
}

// Stalled large uploads from one address neither delay another address's
// save nor hold their connections for the whole read timeout: a body slower
// than the floor rate is cut off once the grace has passed.
func TestStalledUploadsDelayNoOneElse(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.MaxLargeUploads = 4
		c.ReadTimeout, c.WriteTimeout = 90*time.Second, 90*time.Second
		c.UploadGrace = 2 * time.Second
	})
	u, k := id("owner"), id("owner-key")
	register(t, s, u)
	var stalled []net.Conn
	for range 5 {
		stalled = append(stalled, stall(t, s, strangerIP, 1_400_000, 10))
	}
	time.Sleep(200 * time.Millisecond) // the server has them all

	done := make(chan *servertest.Response, 1)
	go func() { done <- s.From("127.0.0.1").Do(saveReq(u, k, envelope(1_000_000, 'o'))) }()
	select {
	case r := <-done:
		expectStatus(t, r, http.StatusOK)
	case <-time.After(20 * time.Second):
		t.Fatal("the owner's 1.4 MB save waited 20 s behind a stranger's stalled uploads")
	}
	for i, c := range stalled {
		resp, err := answer(c, 20*time.Second)
		if err != nil {
			t.Fatalf("stalled upload %d was not cut off within 20 s: %v", i, err)
		}
		if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("stalled upload %d: %d, want 408 (or 503 while it waited)", i, resp.StatusCode)
		}
	}
}

// A declared length is not memory: stalled uploads that declared 1 MiB each
// and sent a few bytes hold about what they sent, and past the server-wide
// budget a body is refused with 503 and Retry-After instead of growing it.
func TestBodyMemoryFollowsBytesReceived(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.MaxBodyMemory = 256 << 10
		c.ReadTimeout, c.WriteTimeout = 90*time.Second, 90*time.Second
	})
	runtime.GC()
	var base, after runtime.MemStats
	runtime.ReadMemStats(&base)
	const uploads = 40
	var conns []net.Conn
	for i := range uploads {
		conns = append(conns, stall(t, s, []string{strangerIP, strangerIP2}[i%2], 1<<20, 100))
	}
	time.Sleep(time.Second) // the server has read every request's headers
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(base.HeapInuse)
	t.Logf("heap in use grew by %d KiB under %d stalled 1 MiB uploads", growth>>10, uploads)
	if growth > 8<<20 {
		t.Fatalf("heap in use grew by %d MiB under %d stalled uploads that sent 100 bytes each", growth>>20, uploads)
	}
	refused := 0
	for _, c := range conns {
		if resp, err := answer(c, 100*time.Millisecond); err == nil {
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("a stalled upload was answered %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no upload was refused although their blocks exceed the body budget")
	}
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	u := id("owner")
	register(t, s, u)
	save(t, s, u, id("owner-key"), envelope(32, 'o'))
}
