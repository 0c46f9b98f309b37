// Package servertest runs the real server for tests: the same Register that
// main calls, on a temporary data directory, served by PocketBase's own
// apis.Serve on a loopback port.
package servertest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/dailyreps/backup/config"
	_ "github.com/dailyreps/backup/migrations" // the app's schema
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/store/postgres/pgtest"
	"github.com/dailyreps/backup/store/sqlite"
)

// TestPepper is the pepper test servers use unless told otherwise.
var TestPepper = bytes.Repeat([]byte{0x42}, 32)

// Server is a running test server.
type Server struct {
	URL    string
	App    *tests.TestApp
	Config config.Config
	Clock  *Clock
	t      testing.TB
	client *http.Client
	served chan error
	stop   sync.Once
	pgOnce sync.Once
	pg     *dbx.DB
}

// Option adjusts a test server before it starts.
type Option func(*setup)

type setup struct {
	cfg     config.Config
	opts    server.Options
	dataDir string
}

// WithConfig edits the configuration (which starts from the defaults, with
// the test pepper).
func WithConfig(f func(*config.Config)) Option { return func(s *setup) { f(&s.cfg) } }

// WithOptions edits the server options.
func WithOptions(f func(*server.Options)) Option { return func(s *setup) { f(&s.opts) } }

// WithDataDir starts from a copy of an existing data directory.
func WithDataDir(dir string) Option { return func(s *setup) { s.dataDir = dir } }

// New starts a server and stops it when the test ends.
func New(t testing.TB, options ...Option) *Server {
	t.Helper()
	s, err := Start(t, options...)
	if err != nil {
		t.Fatalf("start test server: %v", err)
	}
	return s
}

// BackendEnv selects the backend every test server uses: "postgres" runs
// the whole API suite against PostgreSQL (with DAILYREPS_TEST_DATABASE_URL),
// anything else against SQLite. The test command runs the suite both ways.
const BackendEnv = "DAILYREPS_TEST_BACKEND"

// Postgres reports whether test servers use PostgreSQL.
func Postgres() bool { return os.Getenv(BackendEnv) == "postgres" }

// Start is New, returning the start-up error instead of failing the test.
func Start(t testing.TB, options ...Option) (*Server, error) {
	clock := NewClock(time.Now())
	su := &setup{cfg: config.Default(), dataDir: t.TempDir()}
	su.cfg.Pepper = [][]byte{TestPepper}
	if Postgres() {
		// A fresh schema per server; skips (with a message) without a DSN.
		su.cfg.DatabaseURL = pgtest.DSN(t)
	}
	su.opts.Now = clock.Now
	su.opts.Console = io.Discard
	su.opts.LogOutput = io.Discard
	for _, o := range options {
		o(su)
	}
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: su.dataDir, DBConnect: sqlite.DBConnect})
	if err != nil {
		return nil, err
	}
	// The test app turns request logs off; the leak tests need them on.
	app.Settings().Logs.MaxDays = 7
	server.Register(app, su.cfg, su.opts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Cleanup()
		return nil, err
	}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Listener = ln
		return se.Next()
	})
	served := make(chan error, 1)
	go func() {
		served <- apis.Serve(app, apis.ServeConfig{HttpAddr: ln.Addr().String()})
	}()

	s := &Server{URL: "http://" + ln.Addr().String(), App: app, Config: su.cfg, Clock: clock, t: t,
		client: &http.Client{Timeout: 30 * time.Second}, served: served}
	if err := s.waitReady(served); err != nil {
		_ = ln.Close()
		app.Cleanup()
		return nil, err
	}
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(app.DataDir())
	})
	return s, nil
}

// Stop shuts the server down as SIGTERM would, keeping its data directory
// (s.App.DataDir()) until the test ends.
func (s *Server) Stop() {
	s.stop.Do(func() {
		event := &core.TerminateEvent{App: s.App}
		_ = s.App.OnTerminate().Trigger(event, func(e *core.TerminateEvent) error {
			return e.App.ClearBootstrap()
		})
		<-s.served
	})
}

func (s *Server) waitReady(served chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-served:
			if err == nil {
				err = errors.New("server stopped during start-up")
			}
			return err
		default:
		}
		probe := &http.Client{Timeout: 500 * time.Millisecond}
		if resp, err := probe.Get(s.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("server not ready after 10s")
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (failing the test when it is not JSON).
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response (%d) is not a JSON object: %q", r.Status, r.Body)
	}
	return m
}

// Request describes one request; Body is sent as is (a string) or as JSON.
type Request struct {
	Method, Path string
	Body         any
	Header       map[string]string
	ContentType  *string // nil: application/json when there is a body
}

// Do sends a request and reads the whole response.
func (s *Server) Do(r Request) *Response {
	s.t.Helper()
	return s.do(s.client, r)
}

func (s *Server) do(client *http.Client, r Request) *Response {
	s.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(r.Method, s.URL+r.Path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if r.ContentType != nil {
		if *r.ContentType != "" {
			req.Header.Set("Content-Type", *r.ContentType)
		}
	} else if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read response: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// ID is a valid 64-hex id derived from name.
func ID(name string) string {
	h := sha256Sum(name)
	return hex.EncodeToString(h[:])
}
