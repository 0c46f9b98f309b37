package postgres

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dailyreps/backup/store"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/storetest"
)

// proxy stands between a store and the shared test server, so that a test
// can take "the database" away, as a restart does, without stopping it:
// down cuts every connection and refuses new ones, up listens again on the
// same address.
type proxy struct {
	t                 *testing.T
	network, upstream string
	addr              string

	mu    sync.Mutex
	l     net.Listener // nil while down
	conns []net.Conn
}

func newProxy(t *testing.T, cfg *pgx.ConnConfig) *proxy {
	p := &proxy{t: t, network: "tcp", upstream: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	if strings.HasPrefix(cfg.Host, "/") {
		p.network, p.upstream = "unix", filepath.Join(cfg.Host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

func (p *proxy) listen(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	go p.serve(l)
}

func (p *proxy) serve(l net.Listener) {
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
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go pipe(c, u)
		go pipe(u, c)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up() { p.listen(p.addr) }

// TestRecoversFromOutage: while the database is away every call fails fast
// as ErrUnavailable; once it is back the same store serves again.
func TestRecoversFromOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify {
		t.Skip("sslmode=verify-full: the server's certificate does not name the proxy")
	}
	p := newProxy(t, cfg)
	host, port, _ := net.SplitHostPort(p.addr)
	proxied, err := pgtest.WithParams(dsn, map[string]string{"host": host, "port": port})
	if err != nil {
		t.Fatal(err)
	}
	const conns = 3
	s := open(t, proxied, Options{MaxConns: conns, ConnectTimeout: 2 * time.Second})

	user, key := storetest.ID("u"), storetest.ID("k")
	if err := s.Register(ctx, user, time.Now()); err != nil {
		t.Fatal(err)
	}
	save := func() error {
		_, err := s.SaveBackup(ctx, store.SaveRequest{User: user, Key: key, Data: "blob", Now: time.Now()})
		return err
	}
	calls := map[string]func() error{
		"ping": func() error { return s.Ping(ctx) },
		"get":  func() error { _, err := s.GetBackup(ctx, user, key, 0); return err },
		"save": save,
		"hit":  func() error { return s.Hit(ctx, "b", time.Hour, 1000, time.Now()) },
	}
	if err := save(); err != nil {
		t.Fatal(err)
	}

	p.down()
	began := time.Now()
	for range 2 {
		for name, call := range calls {
			if err := call(); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s while the database is away: %v, want store.ErrUnavailable", name, err)
			}
		}
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("failing took %v", took)
	}

	// The failures above had the pool drop every connection from before.
	p.up()
	for range 2 {
		for name, call := range calls {
			if err := call(); err != nil {
				t.Fatalf("%s after the database came back: %v", name, err)
			}
		}
	}
}
