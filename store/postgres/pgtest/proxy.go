package pgtest

import (
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Proxy is a TCP proxy between the code under test and the shared test
// server, so that a test can take "the database" away, as a restart or a
// network cut does, without stopping a server that other tests use. Down
// cuts every connection and refuses new ones; Up listens again on the same
// address.
type Proxy struct {
	t                 testing.TB
	network, upstream string
	addr              string

	mu    sync.Mutex
	l     net.Listener // nil while down
	conns map[net.Conn]struct{}
}

// NewProxy starts a proxy to the server dsn names and returns it with dsn
// pointed at it, every other setting kept. The proxy goes down when t ends:
// register whatever connects through it after calling NewProxy, so that it
// is stopped first.
//
// It skips t when dsn demands sslmode=verify-full, whose certificate check
// the proxy's address cannot pass.
func NewProxy(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	if cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify {
		t.Skip("sslmode=verify-full: the server's certificate does not name the proxy")
	}
	p := &Proxy{t: t, network: "tcp", upstream: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		conns: map[net.Conn]struct{}{}}
	if strings.HasPrefix(cfg.Host, "/") {
		p.network, p.upstream = "unix", filepath.Join(cfg.Host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.Down)

	host, port, _ := net.SplitHostPort(p.addr)
	proxied, err := WithParams(dsn, map[string]string{"host": host, "port": port})
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	return p, proxied
}

// Addr is the proxy's listening address, host:port.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Down closes every proxied connection and stops accepting new ones, which
// clients see as refused connections. Calling it again does nothing.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Up accepts connections again, on the address clients already hold.
func (p *Proxy) Up() {
	p.t.Helper()
	p.mu.Lock()
	up := p.l != nil
	p.mu.Unlock()
	if !up {
		p.listen(p.Addr())
	}
}

func (p *Proxy) listen(addr string) {
	p.t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("pgtest: proxy: %v", err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	go p.serve(l)
}

func (p *Proxy) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial(p.network, p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.l != l { // went down meanwhile
			p.mu.Unlock()
			c.Close()
			u.Close()
			continue
		}
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

// pipe copies until either side ends, then closes both: a client that hangs
// up ends its server session, and the other way round.
func (p *Proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}
