package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the consistency checks read PostgreSQL directly

	"github.com/dailyreps/backup/servertest"
	"github.com/dailyreps/backup/store/postgres/pgtest"
)

// backend is a database the server can run on.
type backend struct {
	name string
	dsn  string // PostgreSQL; empty for SQLite
}

func (b backend) env() []string {
	if b.dsn == "" {
		return nil
	}
	return []string{"DAILYREPS_DATABASE_URL=" + b.dsn}
}

// db opens the store's database directly, read-only for SQLite; no server
// may have SQLite's files open.
func (b backend) db(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(dataDir, "data.db")+"?mode=ro"
	if b.dsn != "" {
		driver, dsn = "pgx", b.dsn
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// suiteBackend is the backend this pass of the suite runs on (see
// scripts/test.sh): PostgreSQL, in a schema of its own, when
// DAILYREPS_TEST_BACKEND=postgres (skipping with a message when
// DAILYREPS_TEST_DATABASE_URL is unset), else SQLite.
func suiteBackend(t *testing.T) backend {
	t.Helper()
	if !servertest.Postgres() {
		return backend{name: "sqlite"}
	}
	return backend{name: "postgres", dsn: pgtest.DSN(t)}
}

// Two devices save one key at once. Unconditional saves each get a version
// of their own, and every acknowledged version restores what was sent; with
// If-Match on the same version exactly one of the two wins and the other gets
// 412 with the winner's version.
func TestTwoDevicesOneKey(t *testing.T) {
	b := suiteBackend(t)
	const saves = 12
	p := start(t, "", append(noLimits("DAILYREPS_HISTORY_DEPTH=100"), b.env()...)...)
	user, key := hexID("two-devices"), hexID("two-devices-key")
	devices := []*api{newAPI(p.URL), newAPI(p.URL)}
	mustStatus(t, "register", http.StatusOK)(devices[0].register(user))

	var mu sync.Mutex
	acked := map[int64]int{} // version -> seq
	var wg sync.WaitGroup
	for d, dev := range devices {
		wg.Go(func() {
			for i := range saves {
				seq := d*saves + i + 1
				st, v, err := dev.save(user, key, payload(0, seq), "")
				if err != nil || st != http.StatusOK {
					t.Errorf("device %d save %d: %d %v", d, i, st, err)
					return
				}
				mu.Lock()
				if prev, dup := acked[v]; dup {
					t.Errorf("version %d acknowledged twice (payloads %d and %d)", v, prev, seq)
				}
				acked[v] = seq
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	newest := int64(len(acked))
	for v := int64(1); v <= newest; v++ {
		st, data, got, err := devices[1].get(user, key, v)
		if err != nil || st != http.StatusOK || got != v || data != payload(0, acked[v]) {
			t.Fatalf("version %d: %d %v (got version %d, %d bytes)", v, st, err, got, len(data))
		}
	}
	if _, data, v, _ := devices[0].get(user, key, 0); v != newest || data != payload(0, acked[newest]) {
		t.Fatalf("newest is version %d, want %d", v, newest)
	}

	// Conditional: both devices base their save on the same version.
	for round := range 8 {
		_, _, base, _ := devices[0].get(user, key, 0)
		statuses := make([]int, 2)
		etags := make([]string, 2)
		for d, dev := range devices {
			wg.Go(func() {
				st, h, body, err := dev.call("POST", "/api/backup",
					jsonBody("userId", user, "storageKey", key, "data", payload(1, round*2+d)),
					"If-Match", strconv.Quote(strconv.FormatInt(base, 10)))
				if err != nil {
					t.Errorf("device %d: %v", d, err)
					return
				}
				if st != http.StatusOK {
					if err := errorShape(body); err != nil {
						t.Errorf("device %d: %d %v", d, st, err)
					}
				}
				statuses[d], etags[d] = st, h.Get("ETag")
			})
		}
		wg.Wait()
		won := map[int]int{statuses[0]: 0, statuses[1]: 1}
		w, ok1 := won[http.StatusOK]
		l, ok2 := won[http.StatusPreconditionFailed]
		want := `"` + strconv.FormatInt(base+1, 10) + `"`
		if !ok1 || !ok2 || etags[w] != want || etags[l] != want {
			t.Fatalf("round %d on version %d: statuses %v, ETags %q", round, base, statuses, etags)
		}
		if _, data, _, _ := devices[0].get(user, key, 0); data != payload(1, round*2+w) {
			t.Fatalf("round %d: the loser's data was stored", round)
		}
	}
}

// Registrations of one id racing each other: exactly one wins, the rest are
// told 409; registrations of distinct ids at the same time all win.
func TestRegisterRacingRegister(t *testing.T) {
	b := suiteBackend(t)
	p := start(t, "", append(noLimits(), b.env()...)...)
	const racers = 16
	same := make([]int, racers)
	distinct := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		a := newAPI(p.URL)
		wg.Go(func() { same[i], _ = a.register(hexID("contested")) })
		wg.Go(func() { distinct[i], _ = a.register(hexID(fmt.Sprintf("racer-%d", i))) })
	}
	wg.Wait()
	won := 0
	for i := range racers {
		switch same[i] {
		case http.StatusOK:
			won++
		case http.StatusConflict:
		default:
			t.Fatalf("contested registration: %d", same[i])
		}
		if distinct[i] != http.StatusOK {
			t.Fatalf("registration of a fresh id: %d", distinct[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d contested registrations won, want 1: %v", won, same)
	}
}

// A delete racing saves of the same key, and of a new key of the same user,
// never answers 5xx, never half-deletes, and never leaves a backup without
// its user or history without its backup; the user's other backup is never
// touched.
func TestDeleteRacingSave(t *testing.T) {
	b := suiteBackend(t)
	dir := t.TempDir()
	p := start(t, dir, append(noLimits("DAILYREPS_HISTORY_DEPTH=5"), b.env()...)...)
	a := newAPI(p.URL)
	for round := range 12 {
		user, keep := hexID(fmt.Sprintf("deleter-%d", round)), hexID(fmt.Sprintf("kept-key-%d", round))
		key, other := hexID(fmt.Sprintf("contested-key-%d", round)), hexID(fmt.Sprintf("late-key-%d", round))
		mustStatus(t, "register", http.StatusOK)(a.register(user))
		stableUser := round%2 == 0 // half the rounds keep a second backup, so the user stays
		if stableUser {
			mustStatus(t, "save", http.StatusOK)(a.save(user, keep, payload(9, round), ""))
		}
		mustStatus(t, "save", http.StatusOK)(a.save(user, key, payload(2, round), ""))

		var wg sync.WaitGroup
		statuses := make(chan string, 16)
		for i := range 3 {
			wg.Go(func() {
				st, _, err := newAPI(p.URL).save(user, key, payload(3, round*10+i), "")
				statuses <- fmt.Sprintf("save %d %v", st, err)
			})
		}
		wg.Go(func() {
			st, _, err := newAPI(p.URL).save(user, other, payload(4, round), "")
			statuses <- fmt.Sprintf("new-key save %d %v", st, err)
		})
		wg.Go(func() {
			st, err := newAPI(p.URL).delete(user, key)
			statuses <- fmt.Sprintf("delete %d %v", st, err)
		})
		wg.Wait()
		close(statuses)
		for s := range statuses {
			// A save after the user went with its last backup is a 404; the
			// delete itself finds the key saved before the race, so only a
			// 200 will do.
			ok := strings.HasSuffix(s, " 200 <nil>") || !strings.HasPrefix(s, "delete") && strings.HasSuffix(s, " 404 <nil>")
			if !ok {
				t.Fatalf("round %d: %s", round, s)
			}
		}
		// The delete deleted: whatever the racing saves wrote afterwards,
		// the backup saved before the race is in no version of the key.
		checkGone(t, a, user, key, payload(2, round))
		if stableUser {
			if st, data, _, _ := a.get(user, keep, 0); st != http.StatusOK || data != payload(9, round) {
				t.Fatalf("round %d: the user's other backup: %d", round, st)
			}
		}
		checkBackupCoherent(t, a, user, key)
		checkBackupCoherent(t, a, user, other)
	}
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	checkNoOrphans(t, b.db(t, dir))
}

// checkBackupCoherent: a backup is either wholly there (its newest version
// and its version list agree) or wholly gone.
func checkBackupCoherent(t *testing.T, a *api, user, key string) {
	t.Helper()
	st, data, v, err := a.get(user, key, 0)
	q := "/api/backup/versions?userId=" + user + "&storageKey=" + key
	vst, _, body, verr := a.call("GET", q, nil)
	if err != nil || verr != nil {
		t.Fatal(err, verr)
	}
	switch {
	case st == http.StatusNotFound && vst == http.StatusNotFound:
	case st == http.StatusOK && vst == http.StatusOK:
		payloadSeq(t, data) // whole
		if !strings.Contains(string(body), `"version":`+strconv.FormatInt(v, 10)+`,`) {
			t.Fatalf("newest version %d missing from the version list %s", v, body)
		}
	default:
		t.Fatalf("restore %d but version list %d", st, vst)
	}
}

// checkGone fails the test when any version of the key restores data.
func checkGone(t *testing.T, a *api, user, key, data string) {
	t.Helper()
	for v := int64(1); ; v++ {
		st, got, _, err := a.get(user, key, v)
		if err != nil {
			t.Fatal(err)
		}
		if st == http.StatusNotFound {
			if _, _, newest, _ := a.get(user, key, 0); v > newest {
				return
			}
			continue
		}
		if st != http.StatusOK {
			t.Fatalf("version %d: %d", v, st)
		}
		if got == data {
			t.Fatalf("the deleted backup is still there, as version %d: the delete deleted nothing", v)
		}
	}
}

// checkNoOrphans reads the database: no history without its backup, no
// backup or activity without its user.
func checkNoOrphans(t *testing.T, db *sql.DB) {
	t.Helper()
	for what, q := range map[string]string{
		"versions without a backup": `SELECT COUNT(*) FROM backup_versions v WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.id = v.backup_id)`,
		"backups without a version": `SELECT COUNT(*) FROM backups b WHERE NOT EXISTS (SELECT 1 FROM backup_versions v WHERE v.backup_id = b.id AND v.version = b.version)`,
		"backups without a user":    `SELECT COUNT(*) FROM backups b WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = b.user_id)`,
		"activity without a user":   `SELECT COUNT(*) FROM activity a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)`,
	} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%d rows of %s", n, what)
		}
	}
}

// Reads while a key is being rewritten never see a torn or mixed backup, nor
// go back in time, and each version read is the one acknowledged under that
// number.
func TestReadsDuringWrites(t *testing.T) {
	b := suiteBackend(t)
	p := start(t, "", append(noLimits("DAILYREPS_HISTORY_DEPTH=2"), b.env()...)...)
	user, key := hexID("reader"), hexID("reader-key")
	w := newAPI(p.URL)
	mustStatus(t, "register", http.StatusOK)(w.register(user))
	mustStatus(t, "save", http.StatusOK)(w.save(user, key, bigPayload(1), ""))

	var acked sync.Map // version -> seq
	acked.Store(int64(1), 1)
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	seen := make([]map[int64]int, 4)
	for r := range seen {
		seen[r] = map[int64]int{}
		wg.Go(func() {
			a, last := newAPI(p.URL), int64(0)
			for !done.Load() {
				st, data, v, err := a.get(user, key, 0)
				if err != nil || st != http.StatusOK {
					t.Errorf("reader %d: %d %v", r, st, err)
					return
				}
				seq := payloadSeq(t, data)
				if data != bigPayload(seq) {
					t.Errorf("reader %d: torn read of version %d", r, v)
					return
				}
				if v < last {
					t.Errorf("reader %d: version %d after %d", r, v, last)
					return
				}
				last, seen[r][v] = v, seq
				reads.Add(1)
			}
		})
	}
	for seq := 2; seq <= 25; seq++ {
		st, v, err := w.save(user, key, bigPayload(seq), "")
		if err != nil || st != http.StatusOK {
			t.Errorf("save %d: %d %v", seq, st, err)
			break
		}
		acked.Store(v, seq)
	}
	done.Store(true)
	wg.Wait()
	for r, m := range seen {
		for v, seq := range m {
			if want, _ := acked.Load(v); want != seq {
				t.Errorf("reader %d read payload %d as version %d, which was acknowledged for payload %v", r, seq, v, want)
			}
		}
	}
	t.Logf("%d reads during 24 saves", reads.Load())
}

// bigPayload is a backup of 256 KiB to 1 MiB, large enough that a read and
// a write overlap.
func bigPayload(seq int) string {
	return sizedPayload(7, seq, 256<<10+seq%4*(256<<10))
}

// A short soak at steady load: the live heap, memory (RSS), open files and
// threads stay flat once the first third (warm-up: caches fill) is over, the
// last third measured against the middle one. The live heap is what the
// runtime reports after each garbage collection (GODEBUG=gctrace=1), so a
// leak of a few MiB a minute shows where RSS, which the runtime gives back
// slowly, would hide it. DAILYREPS_SOAK sets the length (default 15s;
// minutes for a real soak).
func TestSoak(t *testing.T) {
	length := 15 * time.Second
	if s := os.Getenv("DAILYREPS_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 4*time.Second {
			t.Fatalf("DAILYREPS_SOAK=%q: want a duration of 4s or more", s)
		}
		length = d
	}
	b := suiteBackend(t)
	p := start(t, "", append(noLimits("DAILYREPS_HISTORY_DEPTH=3", "GODEBUG=gctrace=1"), b.env()...)...)
	pid := p.cmd.Process.Pid
	var served, notFound atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// About 240 requests a second, a third of them protocol v2.
	const clients, v2Clients, pace = 4, 2, 25 * time.Millisecond
	before := len(p.output())
	for c := range clients {
		wg.Go(func() { soakClient(t, newAPI(p.URL), c, pace, stop, &served, &notFound) })
	}
	for c := range v2Clients {
		wg.Go(func() { soakV2Client(t, newAPI(p.URL), c, pace, stop, &served, &notFound) })
	}
	var samples []procSample
	tick := time.NewTicker(250 * time.Millisecond)
	deadline := time.After(length)
loop:
	for {
		select {
		case <-tick.C:
			samples = append(samples, readProc(t, pid))
		case <-deadline:
			break loop
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	gcs := collections(p.output()[before:])
	if len(gcs) < 9 || len(samples) < 9 {
		t.Fatalf("%d garbage collections and %d samples during the load: too few to judge", len(gcs), len(samples))
	}
	third := len(samples) / 3
	mid, late := peak(samples[third:2*third]), peak(samples[2*third:])
	settled := gcs[len(gcs)/3:]
	growth, typical := trend(settled)
	t.Logf("%s: %d requests in %v (%d of them 404s by design), %d collections; after the warm-up the live heap and stacks (%d MB) grew by %.1f MB; middle -> last third: peak RSS %d -> %d KiB, open files %d -> %d, threads %d -> %d",
		b.name, served.Load(), length, notFound.Load(), len(gcs), typical, growth, mid.rssKiB, late.rssKiB, mid.fds, late.fds, mid.threads, late.threads)
	if served.Load() < int64(length/pace) {
		t.Fatalf("only %d requests served: the load was not steady", served.Load())
	}
	// After the warm-up what is live only wobbles with the requests in
	// flight; a leak keeps adding to it. growth is the least-squares line's
	// rise over the last two thirds, so one large request does not count.
	if growth > 2+float64(typical)/10 {
		t.Errorf("live memory grew by %.1f MB over the last two thirds of the soak (from about %d MB)", growth, typical)
	}
	// RSS is the backstop for memory outside Go's heap; generous, since
	// SQLite's page caches (up to 32 MB a connection) fill over minutes.
	if late.rssKiB > mid.rssKiB+mid.rssKiB/4+16<<10 {
		t.Errorf("memory grew: peak RSS %d KiB in the middle third, %d KiB in the last", mid.rssKiB, late.rssKiB)
	}
	if late.fds > mid.fds+8 {
		t.Errorf("open files grew: %d in the middle third, %d in the last", mid.fds, late.fds)
	}
	// The runtime adds threads while goroutines sit in system calls, and
	// keeps them; a handful more is that, dozens is a leak.
	if late.threads > mid.threads+8 {
		t.Errorf("threads grew: %d in the middle third, %d in the last", mid.threads, late.threads)
	}
}

// gcLine is the runtime's line for one garbage collection: "gc 7 @1.2s 1%:
// ..., 4->5->2 MB, 4 MB goal, 0 MB stacks, ...": the heap left live is the
// third of the three, and goroutines' stacks are counted apart.
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @([0-9.]+)s .*?\d+->\d+->(\d+) MB, \d+ MB goal, (\d+) MB stacks`)

type collection struct {
	at   float64 // seconds since the process started
	live int     // MB of live heap and stacks after it
}

// collections returns the garbage collections traced in out.
func collections(out string) []collection {
	var gcs []collection
	for _, m := range gcLine.FindAllStringSubmatch(out, -1) {
		at, _ := strconv.ParseFloat(m[1], 64)
		heap, _ := strconv.Atoi(m[2])
		stacks, _ := strconv.Atoi(m[3])
		gcs = append(gcs, collection{at: at, live: heap + stacks})
	}
	return gcs
}

// trend fits a line to live memory over time and returns its rise from the
// first collection to the last, and the median live memory.
func trend(gcs []collection) (growth float64, median int) {
	var sx, sy, sxx, sxy float64
	n := float64(len(gcs))
	for _, g := range gcs {
		x, y := g.at, float64(g.live)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	lives := make([]int, len(gcs))
	for i, g := range gcs {
		lives[i] = g.live
	}
	slices.Sort(lives)
	return slope * (gcs[len(gcs)-1].at - gcs[0].at), lives[len(lives)/2]
}

// soakClient runs one client's share of the load: a user of its own who
// saves, restores, lists, reads activity and usage, guesses wrong, and now
// and then deletes everything and starts over.
func soakClient(t *testing.T, a *api, c int, pace time.Duration, stop chan struct{}, served, notFound *atomic.Int64) {
	user := hexID(fmt.Sprintf("soak-%d", c))
	tick := time.NewTicker(pace)
	defer tick.Stop()
	registered := false
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		key := hexID(fmt.Sprintf("soak-%d-%d", c, i/6%3)) // one key per round of six requests
		q := "?userId=" + user + "&storageKey=" + key
		var st int
		var err error
		want := []int{http.StatusOK}
		switch {
		case !registered:
			st, err = a.register(user)
			registered = true
		case i%50 == 49:
			want = []int{http.StatusOK, http.StatusNotFound}
			for k := range 3 {
				// Each delete is judged on its own: one refused in the middle
				// would leave a backup, and with it the user.
				if st, err = a.delete(user, hexID(fmt.Sprintf("soak-%d-%d", c, k))); err != nil || !slices.Contains(want, st) {
					break
				}
				if st == http.StatusOK {
					registered = false // the user went with its last backup
				}
			}
		case i%6 == 0:
			st, _, err = a.save(user, key, sizedPayload(c, i, 4<<10+i%16<<10), "")
		case i%6 == 1:
			st, _, _, err = a.get(user, key, 0)
			want = []int{http.StatusOK, http.StatusNotFound}
		case i%6 == 2:
			st, _, _, err = a.call("GET", "/api/backup/versions"+q, nil)
			want = []int{http.StatusOK, http.StatusNotFound}
		case i%6 == 3:
			st, _, _, err = a.call("GET", "/api/backup/activity"+q, nil)
			want = []int{http.StatusOK, http.StatusNotFound}
		case i%6 == 4:
			st, _, _, err = a.call("GET", "/api/usage"+q, nil)
			want = []int{http.StatusOK, http.StatusNotFound}
		default:
			st, _, _, err = a.get(user, hexID("wrong-password"), 0)
			want = []int{http.StatusNotFound}
		}
		if err != nil || !slices.Contains(want, st) {
			t.Errorf("client %d request %d: %d %v", c, i, st, err)
			return
		}
		served.Add(1)
		if st == http.StatusNotFound {
			notFound.Add(1)
		}
	}
}

// procSample is what /proc says about the server process.
type procSample struct {
	rssKiB, fds, threads int
}

func readProc(t *testing.T, pid int) procSample {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var s procSample
	for line := range strings.SplitSeq(string(status), "\n") {
		name, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch name {
		case "VmRSS":
			s.rssKiB, _ = strconv.Atoi(fields[0])
		case "Threads":
			s.threads, _ = strconv.Atoi(fields[0])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	if s.rssKiB == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	return s
}

func peak(samples []procSample) procSample {
	var p procSample
	for _, s := range samples {
		p.rssKiB, p.fds, p.threads = max(p.rssKiB, s.rssKiB), max(p.fds, s.fds), max(p.threads, s.threads)
	}
	return p
}

// mustStatus fails the test unless a call answered want.
func mustStatus(t *testing.T, what string, want int) func(st int, rest ...any) {
	return func(st int, rest ...any) {
		t.Helper()
		if err, _ := rest[len(rest)-1].(error); err != nil || st != want {
			t.Fatalf("%s: %d %v, want %d", what, st, rest[len(rest)-1], want)
		}
	}
}
