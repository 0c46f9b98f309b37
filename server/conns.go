package server

import (
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
)

// connLimit caps the connections one client address holds open at once:
// requests in flight, idle keep-alives and PocketBase's realtime (SSE)
// streams alike. Without it one address could hold every file descriptor the
// process may open, and /health would time out for everyone. A connection
// over the cap is closed as soon as it is accepted, before a byte is read.
// IPv6 clients count by their /64, as the rate limits do.
type connLimit struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[netip.Prefix]int
}

func limitConns(l net.Listener, perAddr int) net.Listener {
	return &connLimit{Listener: l, max: perAddr, open: map[netip.Prefix]int{}}
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := connKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[key]
		if n < l.max {
			l.open[key] = n + 1
		}
		l.mu.Unlock()
		if n >= l.max {
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: sync.OnceFunc(func() { l.release(key) })}, nil
	}
}

func (l *connLimit) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] <= 1 {
		delete(l.open, key)
	} else {
		l.open[key]--
	}
}

func connKey(a net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// rejectUncleanPaths answers a path that net/http's mux would redirect to its
// cleaned form (/api//backup, /api/./backup) with a plain 404 instead: the
// mux's redirect repeats the query, ids included, in a Location header
// without Cache-Control: no-store, where browsers, proxies and logs keep it.
// No client of ours sends such paths.
func rejectUncleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p != "" && p != cleanPath(p) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"Not found."}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is net/http's: path.Clean keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
