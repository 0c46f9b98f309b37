package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// openRealtime opens PocketBase's realtime stream (anonymous SSE) from ip
// and reports whether the server answered it; the connection stays open.
func openRealtime(t *testing.T, s *servertest.Server, ip string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /api/realtime HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", strings.TrimPrefix(s.URL, "http://"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return c, err == nil && strings.HasPrefix(line, "HTTP/1.1 200")
}

// One address holding realtime streams (or idle connections) is capped, and
// other addresses keep being served.
func TestConnectionsPerAddressAreCapped(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.MaxConnsPerIP = 8 }))
	served := 0
	for range 12 {
		if _, ok := openRealtime(t, s, "127.0.0.2"); ok {
			served++
		}
	}
	if served != 8 {
		t.Fatalf("%d of 12 realtime streams from one address were served, want 8", served)
	}
	if _, ok := openRealtime(t, s, "127.0.0.3"); !ok {
		t.Fatal("another address's realtime stream was refused")
	}
	if r := s.Do(servertest.Request{Method: "GET", Path: "/health"}); r.Status != http.StatusOK {
		t.Fatalf("/health from another address: %d", r.Status)
	}
}
