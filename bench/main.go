// Command bench measures the backup server against a bare net/http + SQLite
// reference server (bench/bare) doing the same upsert and read, in the same
// run, alternating between them so that both see the same machine.
//
//	bench/run.sh            the full run (about 25 minutes on 2 cores with PostgreSQL)
//	bench/run.sh -quick     a smoke run of a few minutes
//
// It builds both servers, starts each configuration as its own process with
// an empty data directory, and drives register, save and restore at several
// sizes and concurrencies with wrk (signed requests with vegeta), recording
// req/s, latency percentiles, server CPU per request (from /proc/<pid>/stat)
// and peak RSS (VmHWM, reset before every measurement). Every figure is also
// given as a ratio to the bare server's from the same repetition.
//
// With DAILYREPS_BENCH_DATABASE_URL set (a postgres:// URL) the PostgreSQL
// backend is measured too, each process in a fresh schema dropped afterwards.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The calls.
const (
	opRegister = "register"
	opSave     = "save"
	opRestore  = "restore"
)

// Phases.
const (
	phaseMain   = "main"   // wrk: many users, defaults: ours (and ours-pg) against bare (and bare-pg)
	phaseSingle = "single" // wrk: one backup, every limit off, against bare (and bare with synchronous=NORMAL)
	phaseMemory = "memory" // 20 uploads of 5 MB in flight; idle RSS
	phaseSigned = "signed" // vegeta: signed requests to ours with and without the secret, and to bare
)

// Drivers, as the tables name them: the main workload and the single-backup one.
const (
	driverMany   = "wrk"
	driverSingle = "wrk-single"
)

// warmupConns warms every fresh server; largeSize is where the large-payload
// concurrency and user count apply.
const (
	warmupConns = 10
	largeSize   = 1_000_000
)

type options struct {
	reps        int
	duration    time.Duration
	warmup      time.Duration
	concs       []int
	signedConcs []int
	sizes       []int
	cells       *regexp.Regexp
	users       int // backups of the main workload, one per user
	largeUsers  int // the same at largeSize and above
	largeConcs  []int
	phases      []string
	pprofDir    string
	out         string
	jsonOut     string
	pgDSN       string
	command     string
}

func main() {
	opts, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags() (options, error) {
	var o options
	quick := flag.Bool("quick", false, "a smoke run: one repetition of 1 s per measurement")
	flag.IntVar(&o.reps, "reps", 3, "repetitions of every measurement (the tables give medians)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "length of each measurement (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load sent to each fresh server before it is measured")
	concs := flag.String("c", "10", "concurrencies (connections)")
	largeConcs := flag.String("c-large", "4", "concurrencies (connections) at 1MB and above")
	flag.IntVar(&o.users, "users", 100, "users of the main workload, one backup each")
	flag.IntVar(&o.largeUsers, "users-large", 20, "users of the main workload at 1MB and above")
	signedConcs := flag.String("signed-c", "10", "concurrencies of the signed phase")
	sizes := flag.String("sizes", "1KB,100KB,1MB", "payload sizes (decimal units)")
	cells := flag.String("cells", "", "only the measurements whose name (e.g. save/100KB/c10) matches this regexp")
	phases := flag.String("phases", "main,single,memory,signed", "phases to run")
	flag.StringVar(&o.pprofDir, "pprof", "", "run ours built with pprof and save a CPU profile of each of its measurements here")
	flag.StringVar(&o.out, "out", "", "also write the report (Markdown) to this file")
	flag.StringVar(&o.jsonOut, "json", "", "write every sample (JSON) to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	if *quick {
		o.reps, o.duration = 1, time.Second
	}
	var err error
	if o.concs, err = parseInts(*concs); err != nil {
		return o, err
	}
	if o.largeConcs, err = parseInts(*largeConcs); err != nil {
		return o, err
	}
	if o.users < 1 || o.largeUsers < 1 {
		return o, errors.New("-users and -users-large must be at least 1")
	}
	if o.signedConcs, err = parseInts(*signedConcs); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			return o, err
		}
		o.sizes = append(o.sizes, n)
	}
	if o.cells, err = regexp.Compile(*cells); err != nil {
		return o, fmt.Errorf("-cells: %w", err)
	}
	for _, p := range strings.Split(*phases, ",") {
		if p = strings.TrimSpace(p); !slices.Contains([]string{phaseMain, phaseSingle, phaseMemory, phaseSigned}, p) {
			return o, fmt.Errorf("unknown phase %q", p)
		}
		o.phases = append(o.phases, p)
	}
	if o.reps < 1 || o.duration < time.Second {
		return o, errors.New("-reps must be at least 1 and -duration at least 1s")
	}
	o.pgDSN = os.Getenv("DAILYREPS_BENCH_DATABASE_URL")
	o.command = "bench/run.sh " + strings.Join(os.Args[1:], " ")
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad concurrency %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runner holds one benchmark run's state.
type runner struct {
	opts    options
	bins    binaries
	wrk     *wrkRunner
	dir     string
	results results
	salt    uint32
	rates   map[string]float64 // signed phase: measured ceiling per call and size
}

func run(ctx context.Context, opts options) error {
	benchDir, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(benchDir, "bare")); err != nil {
		return errors.New("run from the bench directory (bench/run.sh does)")
	}
	dir, err := os.MkdirTemp("", "dailyreps-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if opts.pprofDir != "" {
		if err := os.MkdirAll(opts.pprofDir, 0o755); err != nil {
			return err
		}
	}

	r := &runner{opts: opts, dir: dir, rates: map[string]float64{}}
	r.results.Machine = describeMachine()
	r.results.Command = opts.command
	r.results.Settings = fmt.Sprintf("%d repetitions of %s per measurement, %s warm-up per server process",
		opts.reps, opts.duration, opts.warmup)
	logf("building the servers")
	if r.bins, err = build(ctx, filepath.Dir(benchDir), benchDir, dir, opts.pprofDir != ""); err != nil {
		return err
	}
	if r.wrk, err = newWrkRunner(dir); err != nil {
		return err
	}
	r.results.Machine.LoadBefore = loadAverage()
	started := time.Now()
	for _, p := range opts.phases {
		switch p {
		case phaseMain:
			err = r.mainPhase(ctx)
		case phaseSingle:
			err = r.singlePhase(ctx)
		case phaseMemory:
			err = r.memoryPhase(ctx)
		case phaseSigned:
			err = r.signedPhase(ctx)
		}
		if err != nil {
			return err
		}
	}
	r.results.Machine.LoadAfter = loadAverage()
	r.results.Took = time.Since(started).Round(time.Second)

	report := r.results.markdown(opts.pgDSN != "")
	fmt.Print(report)
	if opts.out != "" {
		if err := os.WriteFile(opts.out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	if opts.jsonOut != "" {
		b, err := json.MarshalIndent(r.results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(opts.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// group is one call at one size: the servers of a group are started
// together, prepared, and measured at each concurrency in turn.
type group struct {
	op   string
	size int // 0 for register
}

func (g group) cell(conc int) string {
	if g.op == opRegister {
		return fmt.Sprintf("%s/c%d", g.op, conc)
	}
	return fmt.Sprintf("%s/%s/c%d", g.op, sizeLabel(g.size), conc)
}

func (r *runner) groups(register bool, concs func(size int) []int) []group {
	var all []group
	if register {
		all = append(all, group{op: opRegister})
	}
	for _, op := range []string{opSave, opRestore} {
		for _, s := range r.opts.sizes {
			all = append(all, group{op, s})
		}
	}
	var out []group
	for _, g := range all {
		if slices.ContainsFunc(concs(g.size), func(c int) bool { return r.opts.cells.MatchString(g.cell(c)) }) {
			out = append(out, g)
		}
	}
	return out
}

// concsFor is the concurrencies a payload size is measured at.
func (r *runner) concsFor(size int) []int {
	if size >= largeSize {
		return r.opts.largeConcs
	}
	return r.opts.concs
}

// usersFor is how many backups the main workload spreads a size over.
func (r *runner) usersFor(size int) int {
	if size >= largeSize {
		return r.opts.largeUsers
	}
	return r.opts.users
}

// mainPhase measures the realistic workload (many users, one backup each,
// saved in turn so that every history is full; restores of those backups
// at random) on the default configuration: ours against bare, the quota
// and history variants for saves, and PostgreSQL against bare on pgx.
func (r *runner) mainPhase(ctx context.Context) error {
	for _, g := range r.groups(false, r.concsFor) {
		specs := []serverSpec{specBare, specOurs}
		if g.op == opSave {
			specs = append(specs, specOursQuotaOff, specOursH0)
		}
		if r.opts.pgDSN != "" {
			specs = append(specs, specBarePG, specOursPG)
		}
		if err := r.measureGroup(ctx, g, specs, driverMany, r.usersFor(g.size)); err != nil {
			return fmt.Errorf("%s: %w", g.cell(0), err)
		}
	}
	return nil
}

// singlePhase is the earlier workload, kept as secondary rows: every save to
// one backup, every limit off; registrations; bare with synchronous=NORMAL
// for saves, to show what durability costs.
func (r *runner) singlePhase(ctx context.Context) error {
	for _, g := range r.groups(true, r.concsFor) {
		specs := []serverSpec{specBare, specOursOpen}
		if g.op == opSave {
			specs = append(specs, specBareNormal)
		}
		if err := r.measureGroup(ctx, g, specs, driverSingle, 1); err != nil {
			return fmt.Errorf("single %s: %w", g.cell(0), err)
		}
	}
	return nil
}

// measureGroup starts the group's servers once, prepares them, and then
// measures them in turn, repetition after repetition, the order rotating,
// so that every ratio pairs measurements taken seconds apart.
func (r *runner) measureGroup(ctx context.Context, g group, specs []serverSpec, driver string, users int) error {
	job, err := r.wrkJob(g, driver, users)
	if err != nil {
		return err
	}
	procs, err := r.startAll(ctx, specs)
	defer stopAll(procs)
	if err != nil {
		return err
	}
	for _, p := range procs {
		if err := r.prepare(ctx, p.url, g, driver, users); err != nil {
			return fmt.Errorf("%s: prepare: %w", p.spec.Name, err)
		}
		if _, err := r.wrk.run(ctx, p.url, job, warmupConns, r.opts.warmup); err != nil {
			return err
		}
	}
	for rep := range r.opts.reps {
		for ci, c := range r.concsFor(g.size) {
			if !r.opts.cells.MatchString(g.cell(c)) {
				continue
			}
			for _, p := range rotate(procs, rep+ci) {
				s, err := r.measure(ctx, p, rep, g, c, driver, func() (loadResult, error) {
					return r.wrk.run(ctx, p.url, job, c, r.opts.duration)
				})
				if err != nil {
					return err
				}
				r.results.Samples = append(r.results.Samples, s)
			}
		}
	}
	return nil
}

func (r *runner) startAll(ctx context.Context, specs []serverSpec) ([]*proc, error) {
	var procs []*proc
	for _, s := range specs {
		p, err := startServer(ctx, s, r.bins, r.dir, r.opts.pgDSN)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func stopAll(procs []*proc) {
	for _, p := range procs {
		p.stop()
	}
}

// rotate returns procs starting at the i-th, so that each server goes first
// in turn and none always measures on a machine its predecessor warmed.
func rotate(procs []*proc, i int) []*proc {
	i %= len(procs)
	return append(slices.Clone(procs[i:]), procs[:i]...)
}

// measure runs load against p and reads the server's CPU time and peak RSS
// around it.
func (r *runner) measure(ctx context.Context, p *proc, rep int, g group, conc int, driver string,
	load func() (loadResult, error)) (sample, error) {
	pid := p.pid()
	if err := resetPeak(pid); err != nil {
		return sample{}, fmt.Errorf("reset peak RSS: %w", err)
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return sample{}, err
	}
	profile := r.startProfile(ctx, p, fmt.Sprintf("%s-%s-%s-r%d", driver, p.spec.Name, strings.ReplaceAll(g.cell(conc), "/", "-"), rep+1))
	res, err := load()
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %w", p.spec.Name, g.cell(conc), err)
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return sample{}, err
	}
	_, hwm, err := memStatus(pid)
	if err != nil {
		return sample{}, err
	}
	if err := profile(); err != nil {
		return sample{}, err
	}
	s := sample{
		Driver: driver, Op: g.op, Size: g.size, Conc: conc, Server: p.spec.Name, Rep: rep,
		Requests: res.Requests, Errors: res.Errors, RPS: res.RPS(),
		P50: ms(res.P50), P95: ms(res.P95), P99: ms(res.P99),
		PeakMB: float64(hwm) / (1 << 20),
	}
	if ok := res.OK(); ok > 0 {
		s.CPUus = float64((cpu1 - cpu0).Microseconds()) / float64(ok)
	}
	logf("rep %d/%d %-18s %-13s %8.0f req/s  p50 %7.2f  p99 %7.2f ms  CPU %6.0f us/req  peak %5.0f MB%s",
		rep+1, r.opts.reps, g.cell(conc), p.spec.Name, s.RPS, s.P50, s.P99, s.CPUus, s.PeakMB, errorNote(s))
	return s, nil
}

func errorNote(s sample) string {
	if s.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("  (%d of %d failed)", s.Errors, s.Requests)
}

// startProfile collects a CPU profile of p for the measurement's length
// when profiling; the returned function waits for it.
func (r *runner) startProfile(ctx context.Context, p *proc, name string) func() error {
	if p.pprofURL == "" {
		return func() error { return nil }
	}
	secs := max(int(r.opts.duration.Seconds()), 1)
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			p.pprofURL+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), nil)
		if err != nil {
			done <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(r.opts.pprofDir, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() error { return <-done }
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// wrkJob writes the group's request body and describes its requests.
func (r *runner) wrkJob(g group, driver string, users int) (wrkJob, error) {
	if g.op == opRegister {
		return wrkJob{method: http.MethodPost, path: "/api/register", register: true}, nil
	}
	if driver == driverMany {
		ids := filepath.Join(r.dir, fmt.Sprintf("ids-%d.txt", users))
		var lines strings.Builder
		for i := range users {
			lines.WriteString(manyUser(i) + " " + manyKey(i) + "\n")
		}
		if err := os.WriteFile(ids, []byte(lines.String()), 0o644); err != nil {
			return wrkJob{}, err
		}
		job := wrkJob{method: http.MethodGet, mode: "many-restore", idsFile: ids}
		if g.op == opSave {
			data, _ := json.Marshal(envelope(ciphertext(g.size), nonceB64(0, 1)))
			path := filepath.Join(r.dir, "data-"+sizeLabel(g.size)+".json")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return wrkJob{}, err
			}
			job = wrkJob{method: http.MethodPost, mode: "many-save", idsFile: ids, bodyFile: path}
		}
		return job, nil
	}
	if g.op == opSave {
		path := filepath.Join(r.dir, "save-"+sizeLabel(g.size)+".json")
		body := saveBody(benchUser, benchKey, envelope(ciphertext(g.size), nonceB64(0, 1)))
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return wrkJob{}, err
		}
		return wrkJob{method: http.MethodPost, path: "/api/backup", bodyFile: path}, nil
	}
	return wrkJob{method: http.MethodGet, path: restorePath(benchUser, benchKey)}, nil
}

// The main workload's users and keys.
func manyUser(i int) string { return id(fmt.Sprintf("bench-user-%d", i)) }
func manyKey(i int) string  { return id(fmt.Sprintf("bench-key-%d", i)) }

// historyFill is how many saves fill a backup's history at the default
// depth (10 previous versions and the newest).
const historyFill = 11

// prepare gives a fresh server what the group's requests need. The single
// workload: the account, and a backup (so that every measured save is an
// update). The main one: users accounts, each with a backup saved until its
// history is full, saved by a few clients at once.
func (r *runner) prepare(ctx context.Context, baseURL string, g group, driver string, users int) error {
	if g.op == opRegister {
		return nil
	}
	body := envelope(ciphertext(g.size), nonceB64(0, 0))
	if driver != driverMany {
		if err := post(ctx, baseURL+"/api/register", registerBody(benchUser)); err != nil {
			return err
		}
		return post(ctx, baseURL+"/api/backup", saveBody(benchUser, benchKey, body))
	}
	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				err := post(ctx, baseURL+"/api/register", registerBody(manyUser(i)))
				for range historyFill {
					if err != nil {
						break
					}
					err = post(ctx, baseURL+"/api/backup", saveBody(manyUser(i), manyKey(i), body))
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range users {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, msg)
	}
	return nil
}

// memoryPhase measures idle RSS, and the RSS each upload adds with 20
// uploads of 5 MB in flight.
func (r *runner) memoryPhase(ctx context.Context) error {
	const uploads, size = 20, 5_000_000
	g := group{opSave, size}
	job, err := r.wrkJob(g, driverSingle, 1)
	if err != nil {
		return err
	}
	specs := []serverSpec{specBare, specOursOpen}
	for rep := range r.opts.reps {
		procs, err := r.startAll(ctx, specs)
		if err != nil {
			stopAll(procs)
			return err
		}
		for _, p := range rotate(procs, rep) {
			// Idle: started and answering, a second after its last request.
			time.Sleep(time.Second)
			idle, _, err := memStatus(p.pid())
			if err != nil {
				stopAll(procs)
				return err
			}
			if err := r.prepare(ctx, p.url, g, driverSingle, 1); err != nil {
				stopAll(procs)
				return err
			}
			base, _, _ := memStatus(p.pid())
			s, err := r.measure(ctx, p, rep, group{"upload20", size}, uploads, "wrk", func() (loadResult, error) {
				return r.wrk.run(ctx, p.url, job, uploads, r.opts.duration)
			})
			if err != nil {
				stopAll(procs)
				return err
			}
			peak := s.PeakMB * (1 << 20)
			// Ours reads at most largeUploads large bodies at a time; the
			// others wait unread. Bare reads all of them.
			admitted := uploads
			if !p.spec.Bare {
				admitted = min(uploads, largeUploads)
			}
			r.results.Memory = append(r.results.Memory, memSample{
				Server: p.spec.Name, Rep: rep,
				IdleMB: float64(idle) / (1 << 20), BaseMB: float64(base) / (1 << 20), PeakMB: s.PeakMB,
				PerUpload: (peak - float64(base)) / uploads / size, Admitted: admitted,
				PerAdmitted: (peak - float64(base)) / float64(admitted) / size, Errors: s.Errors,
			})
		}
		stopAll(procs)
	}
	return nil
}

// signedPhase measures the guarded configuration (signatures and limits on)
// against the open one and bare, all driven by the same signed requests.
func (r *runner) signedPhase(ctx context.Context) error {
	specs := []serverSpec{specBare, specUnsigned, specGuarded}
	for rep := range r.opts.reps {
		for _, g := range r.groups(false, func(int) []int { return r.opts.signedConcs }) {
			if g.size >= largeSize {
				continue // the signature's cost is per request: the small sizes show it
			}
			if err := r.signedGroup(ctx, rep, g, specs); err != nil {
				return fmt.Errorf("signed %s: %w", g.cell(0), err)
			}
		}
	}
	return nil
}

func (r *runner) signedGroup(ctx context.Context, rep int, g group, specs []serverSpec) error {
	rateKey := g.op + "/" + sizeLabel(g.size)
	rate, ok := r.rates[rateKey]
	if !ok {
		rate = expectedRate(g.op, g.size)
	}
	// Room for the warm-up and every measurement on the same process.
	budget := rate * (r.opts.warmup.Seconds() + float64(len(r.opts.signedConcs))*r.opts.duration.Seconds()) * 1.2

	procs, err := r.startAll(ctx, specs)
	defer stopAll(procs)
	if err != nil {
		return err
	}
	loads := map[*proc]*signedWorkload{}
	for _, p := range procs {
		r.salt++
		w, err := newSignedWorkload(g.op, g.size, r.salt, budget)
		if err != nil {
			return err
		}
		if err := w.setup(ctx, p.url); err != nil {
			return fmt.Errorf("%s: %w", p.spec.Name, err)
		}
		if _, _, err := attack(ctx, p.url, w, warmupConns, r.opts.warmup); err != nil {
			return fmt.Errorf("%s: warm-up: %w", p.spec.Name, err)
		}
		loads[p] = w
	}
	measured := 0.0
	for ci, c := range r.opts.signedConcs {
		if !r.opts.cells.MatchString(g.cell(c)) {
			continue
		}
		for _, p := range rotate(procs, rep+ci) {
			var spent bool
			s, err := r.measure(ctx, p, rep, g, c, "vegeta", func() (loadResult, error) {
				res, sp, err := attack(ctx, p.url, loads[p], c, r.opts.duration)
				spent = sp
				return res, err
			})
			if err != nil {
				return err
			}
			if spent {
				logf("  %s ran through its pool of keys before %s; the rate above is over the time it ran", p.spec.Name, r.opts.duration)
				s.Short = true
			}
			measured = max(measured, s.RPS)
			r.results.Samples = append(r.results.Samples, s)
		}
	}
	if measured > 0 {
		r.rates[rateKey] = max(measured*1.5, 10)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05")+" "+format+"\n", args...)
}

// machine describes where the run happened.
type machine struct {
	Date       string `json:"date"`
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpuModel"`
	MemoryGB   string `json:"memory"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Wrk        string `json:"wrk"`
	LoadBefore string `json:"loadBefore"`
	LoadAfter  string `json:"loadAfter"`
}

func describeMachine() machine {
	m := machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGB = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("wrk", "-v").CombinedOutput(); err == nil || len(out) > 0 {
		m.Wrk, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
