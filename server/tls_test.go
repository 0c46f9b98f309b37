package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/sqlite"
)

const wantHSTS = "max-age=63072000; includeSubDomains"

// Over HTTPS every response, API answers, errors and the web page alike,
// tells the browser to stay on HTTPS, and a client that can speak TLS 1.3
// gets it.
func TestHTTPSSendsHSTS(t *testing.T) {
	s := startHTTPS(t)
	client := s.client(nil)
	for _, path := range []string{"/api/info", "/health", "/api/backup?userId=x", "/api/nothing", "/"} {
		resp, err := client.Get(s.url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != wantHSTS {
			t.Errorf("GET %s (%d): Strict-Transport-Security = %q, want %q", path, resp.StatusCode, got, wantHSTS)
		}
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("GET %s: not served over TLS 1.3: %+v", path, resp.TLS)
		}
	}
}

// TLS 1.2 is the floor: older clients are refused, 1.2 and 1.3 connect.
func TestTLSVersionFloor(t *testing.T) {
	s := startHTTPS(t)
	control := startPermissiveTLS(t, s.cert)
	for _, tc := range []struct {
		name    string
		version uint16
		refused bool
	}{
		{"TLS 1.0", tls.VersionTLS10, true},
		{"TLS 1.1", tls.VersionTLS11, true},
		{"TLS 1.2", tls.VersionTLS12, false},
		{"TLS 1.3", tls.VersionTLS13, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			only := func(c *tls.Config) { c.MinVersion, c.MaxVersion = tc.version, tc.version }
			// The client can speak this version: a refusal is the server's doing.
			if _, err := handshake(control, s.tlsConfig(only)); err != nil {
				t.Fatalf("a permissive server refused the client too, nothing is checked: %v", err)
			}
			state, err := handshake(s.addr, s.tlsConfig(only))
			if tc.refused {
				if err == nil {
					t.Fatalf("handshake succeeded with %s", tls.VersionName(state.Version))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if state.Version != tc.version {
				t.Fatalf("negotiated %s", tls.VersionName(state.Version))
			}
			resp, err := s.client(only).Get(s.url + "/api/info")
			if err != nil {
				t.Fatalf("GET /api/info: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") != wantHSTS {
				t.Fatalf("GET /api/info: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
			}
		})
	}
}

// Under TLS 1.2 only forward-secret AEAD suites are accepted: a client that
// offers nothing but CBC is refused, though Go's defaults would serve it.
func TestTLS12CipherSuites(t *testing.T) {
	s := startHTTPS(t)
	control := startPermissiveTLS(t, s.cert)
	suites := func(ids ...uint16) func(*tls.Config) {
		return func(c *tls.Config) { c.MaxVersion, c.CipherSuites = tls.VersionTLS12, ids }
	}
	cbc := suites(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA)
	if _, err := handshake(control, s.tlsConfig(cbc)); err != nil {
		t.Fatalf("a permissive server refused CBC too, nothing is checked: %v", err)
	}
	if state, err := handshake(s.addr, s.tlsConfig(cbc)); err == nil {
		t.Fatalf("CBC accepted: %s", tls.CipherSuiteName(state.CipherSuite))
	}
	for _, id := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
		state, err := handshake(s.addr, s.tlsConfig(suites(id)))
		if err != nil || state.CipherSuite != id {
			t.Errorf("%s: %v (negotiated %s)", tls.CipherSuiteName(id), err, tls.CipherSuiteName(state.CipherSuite))
		}
	}
}

// PocketBase's plain-HTTP listener (port 80 in production) only redirects
// reads to HTTPS and refuses writes, so no backup is accepted in the clear.
func TestPlainHTTPRedirectsToHTTPS(t *testing.T) {
	s := startHTTPS(t)
	noFollow := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noFollow.Get(s.httpURL + "/api/info?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://127.0.0.1:443/api/info?x=1" {
		t.Fatalf("GET over HTTP: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, err = noFollow.Post(s.httpURL+"/api/backup", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "success") {
		t.Fatalf("POST over HTTP: %d %s", resp.StatusCode, body)
	}
}

// Behind a TLS-terminating proxy the connection is plain; the proxy's
// X-Forwarded-Proto is believed only when the operator names a trusted
// proxy header.
func TestHSTSBehindProxy(t *testing.T) {
	info := func(s *servertest.Server, proto string) string {
		h := map[string]string{}
		if proto != "" {
			h["X-Forwarded-Proto"] = proto
		}
		r := s.Do(servertest.Request{Method: "GET", Path: "/api/info", Header: h})
		if r.Status != http.StatusOK {
			t.Fatalf("GET /api/info: %d", r.Status)
		}
		return r.Header.Get("Strict-Transport-Security")
	}

	direct := servertest.New(t)
	if got := info(direct, "https"); got != "" {
		t.Errorf("no proxy configured, forged X-Forwarded-Proto: HSTS %q", got)
	}

	proxied := servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.TrustedProxyHeader = "Fly-Client-IP" }))
	for proto, want := range map[string]string{"https": wantHSTS, "http, https": wantHSTS, "HTTPS": wantHSTS,
		"http": "", "https, http": "", "": ""} {
		if got := info(proxied, proto); got != want {
			t.Errorf("behind a proxy, X-Forwarded-Proto %q: HSTS %q, want %q", proto, got, want)
		}
	}
}

// httpsServer is the real wiring (server.Register) served by PocketBase's
// apis.Serve in HTTPS mode, as `serve example.com` runs it, with a
// self-signed certificate in place of Let's Encrypt.
type httpsServer struct {
	url, addr string
	httpURL   string // PocketBase's plain-HTTP redirect listener
	cert      tls.Certificate
	roots     *x509.CertPool
}

func startHTTPS(t *testing.T) *httpsServer {
	t.Helper()
	cert, leaf := selfSigned(t)
	cfg := config.Default()
	cfg.Pepper = [][]byte{servertest.TestPepper}
	if servertest.Postgres() {
		cfg.DatabaseURL = pgtest.DSN(t)
	}
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err != nil {
		t.Fatal(err)
	}
	page := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>DailyReps Backup</title>")}}
	server.Register(app, cfg, server.Options{Public: page, FreeDisk: func(string) (uint64, error) { return 1 << 40, nil }})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Listener = ln
		// Only the certificate's source changes; the TLS policy is the server's.
		se.Server.TLSConfig.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		return se.Next()
	})
	httpAddr := freeAddr(t)
	served := make(chan error, 1)
	go func() {
		served <- apis.Serve(app, apis.ServeConfig{HttpsAddr: ln.Addr().String(), HttpAddr: httpAddr})
	}()
	t.Cleanup(func() {
		_ = app.OnTerminate().Trigger(&core.TerminateEvent{App: app}, func(e *core.TerminateEvent) error {
			return e.App.ClearBootstrap()
		})
		<-served
		// Not app.Cleanup: it would trigger OnTerminate a second time.
		_ = os.RemoveAll(app.DataDir())
	})

	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	s := &httpsServer{url: "https://" + ln.Addr().String(), addr: ln.Addr().String(), httpURL: "http://" + httpAddr,
		cert: cert, roots: roots}
	s.waitReady(t, served)
	return s
}

func (s *httpsServer) tlsConfig(edit func(*tls.Config)) *tls.Config {
	c := &tls.Config{RootCAs: s.roots}
	if edit != nil {
		edit(c)
	}
	return c
}

func (s *httpsServer) client(edit func(*tls.Config)) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: s.tlsConfig(edit)}}
}

func (s *httpsServer) waitReady(t *testing.T, served chan error) {
	t.Helper()
	client := s.client(nil)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-served:
			t.Fatalf("server stopped during start-up: %v", err)
		default:
		}
		if resp, err := client.Get(s.url + "/api/info"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && s.redirectorUp() {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("HTTPS server not ready after 10s")
}

// redirectorUp reports whether PocketBase's HTTP listener, started in its
// own goroutine, accepts connections yet.
func (s *httpsServer) redirectorUp() bool {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.httpURL, "http://"), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// handshake connects and completes a TLS handshake, nothing more.
func handshake(addr string, c *tls.Config) (tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: c}
	conn, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, errors.New("not a TLS connection")
	}
	return tc.ConnectionState(), nil
}

// startPermissiveTLS serves cert with Go's defaults and TLS 1.0 allowed: the
// control showing that a test client is able to connect at all.
func startPermissiveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// selfSigned makes an ECDSA certificate for 127.0.0.1, valid for an hour.
func selfSigned(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "dailyreps-backup test"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
