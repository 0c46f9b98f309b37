package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Short connection timeouts, so that the test waits seconds, not minutes.
const (
	slowHeaderTimeout = time.Second
	slowReadTimeout   = 2 * time.Second
	slowWriteTimeout  = 3 * time.Second
)

// cutOffBound is how long a connection may outlive its timeout before the
// test calls it not cut off: generous, a liveness check and not a speed one.
const cutOffBound = 30 * time.Second

// Slow and stalled clients are cut off by the server's timeouts while other
// clients are served normally: headers trickled (Slowloris), a body trickled,
// an upload that stops, a kept-alive connection left idle, and a client that
// never reads a large response.
func TestSlowClients(t *testing.T) {
	p := start(t, "", append(suiteBackend(t).env(), noLimits(
		"DAILYREPS_READ_HEADER_TIMEOUT="+slowHeaderTimeout.String(),
		"DAILYREPS_READ_TIMEOUT="+slowReadTimeout.String(),
		"DAILYREPS_WRITE_TIMEOUT="+slowWriteTimeout.String(),
		"DAILYREPS_IDLE_TIMEOUT=2s",
		"DAILYREPS_MAX_LARGE_UPLOADS=2",
		// Every client here, the well-behaved one included, is 127.0.0.1: the
		// per-address connection cap is not what this test is about.
		"DAILYREPS_MAX_CONNS_PER_IP=0", "DAILYREPS_MAX_CONNS_PER_IP=0",
	)...)...)
	addr := strings.TrimPrefix(p.URL, "http://")
	user, key := hexID("slow-user"), hexID("slow-key")
	a := newAPI(p.URL)
	mustStatus(t, "register", http.StatusOK)(a.register(user))
	large := sizedPayload(5, 1, 3<<20) // a 4 MiB restore
	mustStatus(t, "save", http.StatusOK)(a.save(user, key, large, ""))

	saveBody := string(jsonBody("userId", user, "storageKey", hexID("slow-upload"), "data", sizedPayload(6, 1, 2<<20)))
	head := func(length int) string {
		return "POST /api/backup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(length) + "\r\n\r\n"
	}

	t.Run("slow headers", func(t *testing.T) {
		underAttack(t, p.URL, user, func() {
			attack(t, addr, 8, 0, func(c net.Conn, _ <-chan struct{}) {
				io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n")
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i); err != nil {
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
		})
	})
	t.Run("slow body", func(t *testing.T) {
		underAttack(t, p.URL, user, func() {
			attack(t, addr, 4, 0, func(c net.Conn, _ <-chan struct{}) {
				io.WriteString(c, head(len(saveBody)))
				for i := 0; i < len(saveBody); i += 64 {
					if _, err := io.WriteString(c, saveBody[i:min(i+64, len(saveBody))]); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		})
	})
	t.Run("stalled upload", func(t *testing.T) {
		// More stalled large uploads from one address than it has slots for
		// large bodies: another address's large save does not wait for them.
		underAttack(t, p.URL, user, func() {
			var wg sync.WaitGroup
			wg.Go(func() {
				attack(t, addr, 4, 0, func(c net.Conn, done <-chan struct{}) {
					io.WriteString(c, head(len(saveBody))+saveBody[:256<<10])
					<-done // and nothing more
				})
			})
			time.Sleep(200 * time.Millisecond)
			other := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
			b := &api{base: p.URL, client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: other.DialContext}}}
			st, _, err := b.save(user, hexID("during-stall"), sizedPayload(6, 2, 2<<20), "")
			if err != nil || st != http.StatusOK {
				t.Errorf("a large save during the stall: %d %v", st, err)
			}
			wg.Wait()
		})
	})
	t.Run("idle kept-alive connection", func(t *testing.T) {
		underAttack(t, p.URL, user, func() {
			attack(t, addr, 8, http.StatusOK, func(c net.Conn, _ <-chan struct{}) {
				io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n") // answered, then silence
			})
		})
	})
	t.Run("reader that never reads", func(t *testing.T) {
		underAttack(t, p.URL, user, func() {
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { neverRead(t, p, addr, "/api/backup?userId="+user+"&storageKey="+key, len(large)) })
			}
			wg.Wait()
		})
	})
}

// attack opens n connections that each run behave, and returns once the
// server has closed every one of them (closing done for behave). The server
// may answer first: with answer, or when answer is 0 with a refusal (a 400
// for a body it could not read).
func attack(t *testing.T, addr string, n, answer int, behave func(c net.Conn, done <-chan struct{})) {
	t.Helper()
	done := make(chan struct{})
	defer close(done)
	var wg sync.WaitGroup
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go behave(c, done)
		wg.Go(func() {
			if err := awaitServerClose(c, answer); err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

// awaitServerClose reads c until the server closes it, checking the answer
// it may send first (see attack).
func awaitServerClose(c net.Conn, answer int) error {
	_ = c.SetReadDeadline(time.Now().Add(cutOffBound))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		switch {
		case answer != 0 && resp.StatusCode != answer, answer == 0 && (resp.StatusCode < 400 || resp.StatusCode >= 500):
			return fmt.Errorf("answered %d", resp.StatusCode)
		case answer == 0:
			if err := errorShape(body); err != nil {
				return err
			}
		}
		_, err = r.ReadByte()
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("not cut off after %v", cutOffBound)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isReset(err):
		return nil
	}
	return err
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "connection reset")
}

// underAttack runs the attack while a well-behaved client keeps saving and
// restoring, every request of which must succeed.
func underAttack(t *testing.T, url, user string, attackFn func()) {
	t.Helper()
	stop := make(chan struct{})
	var served atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		a := newAPI(url)
		key := hexID("bystander-" + t.Name())
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := sizedPayload(8, i, 2<<10)
			if st, _, err := a.save(user, key, data, ""); err != nil || st != http.StatusOK {
				t.Errorf("a well-behaved save during the attack: %d %v", st, err)
				return
			}
			if st, got, _, err := a.get(user, key, 0); err != nil || st != http.StatusOK || got != data {
				t.Errorf("a well-behaved restore during the attack: %d %v", st, err)
				return
			}
			served.Add(2)
			time.Sleep(20 * time.Millisecond)
		}
	})
	attackFn()
	close(stop)
	wg.Wait()
	if served.Load() == 0 {
		t.Fatal("no well-behaved request was served during the attack")
	}
	t.Logf("%d well-behaved requests served during the attack", served.Load())
}

// neverRead asks for a large restore on a connection with a small receive
// buffer and does not read, until the server has given the connection up;
// what can then be read is less than the response.
func neverRead(t *testing.T, p *process, addr, path string, dataLen int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	inode := serverSocket(t, p, c)
	deadline := time.Now().Add(cutOffBound)
	for holdsSocket(t, p, inode) {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds a connection nobody reads after %v", cutOffBound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Had the server written the whole response into the kernels' buffers
	// and left, it would all arrive now, at loopback speed; what it left
	// unwritten never does.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	if n >= int64(dataLen) {
		t.Fatalf("read %d bytes, the whole response: the server never gave up", n)
	}
}

// serverSocket finds the inode of the server's end of c in /proc/net/tcp.
func serverSocket(t *testing.T, p *process, c net.Conn) string {
	t.Helper()
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	// /proc/net/tcp writes 127.0.0.1:port as 0100007F:PORT (hex).
	want := fmt.Sprintf("0100007F:%04X 0100007F:%04X", remote.Port, local.Port)
	deadline := time.Now().Add(cutOffBound)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 9 && f[1]+" "+f[2] == want && f[9] != "0" {
				return f[9]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no server socket for %v", local)
	return ""
}

// holdsSocket reports whether the server process has the socket open.
func holdsSocket(t *testing.T, p *process, inode string) bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if link, _ := os.Readlink(dir + "/" + fd.Name()); link == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}
