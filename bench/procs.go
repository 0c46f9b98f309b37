package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dailyreps/backup/config"
)

// serverSpec is one server configuration under test.
type serverSpec struct {
	Name string
	Bare bool     // the reference server (bench/bare)
	Sync string   // bare only: SQLite's synchronous setting
	Env  []string // ours only: the DAILYREPS_* settings
	PG   bool     // PostgreSQL (a fresh schema per process)
	// Signed: the server checks signatures and the per-address limits, so
	// the client signs every request and names a client address.
	Signed bool
}

// benchPepper and benchSecret are fixed so that runs are repeatable; they
// protect nothing.
const (
	benchPepper = "4242424242424242424242424242424242424242424242424242424242424242"
	benchSecret = "bench-hmac-secret-0123456789abcdef"
	// clientIPHeader carries the virtual client address of a signed
	// request, as a proxy such as Fly.io's would (Fly-Client-IP). Only the
	// header names the address: every request travels over loopback.
	clientIPHeader = "X-Bench-Client-IP"
)

// openEnv turns every limit off: the server does what the bare one does, plus
// its own validation, pepper, logging and history.
func openEnv(historyDepth int) []string {
	return []string{
		"DAILYREPS_PEPPER=" + benchPepper,
		"DAILYREPS_IP_BURST=0",
		"DAILYREPS_REGISTER_PER_HOUR=0",
		"DAILYREPS_NEW_USERS_PER_IP_PER_DAY=0",
		"DAILYREPS_SAVES_PER_HOUR=0",
		"DAILYREPS_SAVES_PER_DAY=0",
		"DAILYREPS_FAILED_LOOKUP_BURST=0",
		"DAILYREPS_MAX_BACKUPS_PER_USER=0",
		"DAILYREPS_USER_QUOTA_BYTES=0",
		"DAILYREPS_HISTORY_DEPTH=" + strconv.Itoa(historyDepth),
	}
}

// unsignedEnv is guardedEnv without the signature secret: the same signed
// requests, whose signatures it ignores, measure what checking them costs.
func unsignedEnv() []string {
	var out []string
	for _, kv := range guardedEnv() {
		if !strings.HasPrefix(kv, "DAILYREPS_HMAC_SECRET=") {
			out = append(out, kv)
		}
	}
	return out
}

// defaultEnv is the configuration a self-hoster runs (every default) with
// only what one machine cannot load from one address turned off: the
// per-address bucket, the per-backup saves per hour and day, and, while the
// users are created, new users per address and registrations per hour.
// extra settings are appended.
func defaultEnv(extra ...string) []string {
	return append([]string{
		"DAILYREPS_PEPPER=" + benchPepper,
		"DAILYREPS_IP_BURST=0",
		"DAILYREPS_SAVES_PER_HOUR=0",
		"DAILYREPS_SAVES_PER_DAY=0",
		"DAILYREPS_REGISTER_PER_HOUR=0",
		"DAILYREPS_NEW_USERS_PER_IP_PER_DAY=0",
	}, extra...)
}

// guardedEnv is the production configuration with signatures on. Every
// database-backed limit keeps its default, and the workload spreads over
// enough users, keys and client addresses to stay inside them, as real
// traffic does: raising them instead would make their checks scan more rows
// than they ever do in production. Only the in-memory per-address bucket is
// widened, because each virtual client sends more than its burst; its cost
// does not depend on its size.
func guardedEnv() []string {
	return []string{
		"DAILYREPS_PEPPER=" + benchPepper,
		"DAILYREPS_HMAC_SECRET=" + benchSecret,
		"DAILYREPS_TRUSTED_PROXY_HEADER=" + clientIPHeader,
		"DAILYREPS_IP_BURST=1000000",
	}
}

var (
	specBare         = serverSpec{Name: "bare", Bare: true, Sync: "FULL"}
	specBareNormal   = serverSpec{Name: "bare-normal", Bare: true, Sync: "NORMAL"}
	specBarePG       = serverSpec{Name: "bare-pg", Bare: true, PG: true}
	specOurs         = serverSpec{Name: "ours", Env: defaultEnv()}
	specOursQuotaOff = serverSpec{Name: "ours-quota-off", Env: defaultEnv("DAILYREPS_USER_QUOTA_BYTES=0")}
	specOursH0       = serverSpec{Name: "ours-h0", Env: defaultEnv("DAILYREPS_HISTORY_DEPTH=0")}
	specOursPG       = serverSpec{Name: "ours-pg", Env: defaultEnv(), PG: true}
	specOursOpen     = serverSpec{Name: "ours-open", Env: openEnv(10)}
	specGuarded      = serverSpec{Name: "ours-guarded", Env: guardedEnv(), Signed: true}
	specUnsigned     = serverSpec{Name: "ours-unsigned", Env: unsignedEnv(), Signed: true}
)

// largeUploads is DAILYREPS_MAX_LARGE_UPLOADS's default: how many uploads
// of a megabyte or more ours reads at a time from one client address (the
// benchmark's only one). Taken from the server's own defaults, so that the
// memory figure per upload read follows them.
var largeUploads = config.Default().MaxLargeUploads

// binaries are the executables a run starts.
type binaries struct {
	ours, bare string
	pprof      bool // ours is bench/pprofserver, with profiles on a second port
}

// build compiles the real server from the repository root (with the root
// module's own dependency versions, exactly as it ships) and the reference
// server from this module.
func build(ctx context.Context, root, benchDir, outDir string, pprof bool) (binaries, error) {
	b := binaries{ours: filepath.Join(outDir, "dailyreps-backup"), bare: filepath.Join(outDir, "bare"), pprof: pprof}
	steps := [][]string{
		{root, "build", "-o", b.ours, "."},
		{benchDir, "build", "-mod=mod", "-o", b.bare, "./bare"},
	}
	if pprof {
		steps[0] = []string{benchDir, "build", "-mod=mod", "-o", b.ours, "./pprofserver"}
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, "go", s[1:]...)
		cmd.Dir = s[0]
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(s[1:], " "), s[0], err, out)
		}
	}
	return b, nil
}

// proc is a running server.
type proc struct {
	spec     serverSpec
	url      string
	pprofURL string // empty unless profiling
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has been reaped
	dir      string
	log      *os.File
	pgDSN    string // the base DSN, to drop the schema
	pgSchema string
}

// startServer starts spec on a free loopback port with an empty data
// directory under runDir, and waits until it answers /health.
func startServer(ctx context.Context, spec serverSpec, bins binaries, runDir, pgDSN string) (*proc, error) {
	dir, err := os.MkdirTemp(runDir, spec.Name+"-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &proc{spec: spec, url: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir}
	var args []string
	env := cleanEnv()
	if spec.Bare {
		args = []string{bins.bare, "-addr", "127.0.0.1:" + strconv.Itoa(port), "-dir", dir}
		if spec.Sync != "" {
			args = append(args, "-sync", spec.Sync)
		}
		if spec.PG {
			if pgDSN == "" {
				return nil, errors.New(spec.Name + " needs DAILYREPS_BENCH_DATABASE_URL")
			}
			dsn, schema, err := createSchema(ctx, pgDSN)
			if err != nil {
				return nil, err
			}
			p.pgDSN, p.pgSchema = pgDSN, schema
			args = append(args, "-pg", dsn)
		}
	} else {
		if bins.pprof {
			pp, err := freePort()
			if err != nil {
				return nil, err
			}
			p.pprofURL = "http://127.0.0.1:" + strconv.Itoa(pp)
			args = []string{bins.ours, "-pprof-addr", "127.0.0.1:" + strconv.Itoa(pp)}
		} else {
			args = []string{bins.ours}
		}
		args = append(args, "serve", "--http=127.0.0.1:"+strconv.Itoa(port), "--dir="+filepath.Join(dir, "pb_data"))
		env = append(env, spec.Env...)
		if spec.PG {
			if pgDSN == "" {
				return nil, errors.New(spec.Name + " needs DAILYREPS_BENCH_DATABASE_URL")
			}
			dsn, schema, err := createSchema(ctx, pgDSN)
			if err != nil {
				return nil, err
			}
			p.pgDSN, p.pgSchema = pgDSN, schema
			env = append(env, "DAILYREPS_DATABASE_URL="+dsn)
		}
	}
	if p.log, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.cleanup()
		return nil, err
	}
	p.exited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s did not start: %w\n%s", spec.Name, err, tail(filepath.Join(dir, "server.log")))
	}
	return p, nil
}

// cleanEnv is this process's environment without any DAILYREPS_ setting, so
// that the operator's own configuration cannot leak into a server under test.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DAILYREPS_") {
			out = append(out, kv)
		}
	}
	return out
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) waitReady(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(p.url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer on /health after %s", limit)
}

// stop terminates the server as an orchestrator would (SIGTERM, then SIGKILL
// after a grace period) and removes its data.
func (p *proc) stop() {
	if p.exited != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.cleanup()
}

func (p *proc) cleanup() {
	if p.log != nil {
		_ = p.log.Close()
	}
	if p.pgSchema != "" {
		if err := dropSchema(p.pgDSN, p.pgSchema); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	_ = os.RemoveAll(p.dir)
}

// Process figures from /proc.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime is the user plus system CPU time the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: utime and stime are the 12th and 13th.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc/<pid>/stat format")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// memStatus reads VmRSS and VmHWM (the peak RSS) in bytes.
func memStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// resetPeak sets VmHWM back to the current RSS (Linux's clear_refs "5"), so
// that each measurement reports its own peak without restarting the server.
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// PostgreSQL schemas, one per server process.

func createSchema(ctx context.Context, base string) (dsn, schema string, err error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", errors.New("DAILYREPS_BENCH_DATABASE_URL must be a postgres:// URL")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "dr_bench_" + hex.EncodeToString(b)
	if err := pgExec(ctx, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

func dropSchema(base, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgExec(ctx, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}

func pgExec(ctx context.Context, dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to DAILYREPS_BENCH_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
