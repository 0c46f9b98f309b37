package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest/lazyfs"
)

// A save answered 200 survives a power cut, not just a crash: the data
// directory is on lazyfs, which at a cut keeps only what was synced (file
// content and directory entries alike), so this fails if a commit is
// acknowledged before it is synced. The power goes at a random moment in a
// stream of saves, the server process dies with it, the filesystem comes back
// with what was durable, and the server restarts on it, 20 times: every
// acknowledged save restores byte for byte and data.db passes
// integrity_check. The negative control runs the same cuts on a build with
// synchronous=NORMAL and must see acknowledged saves lost; if it does not,
// the filesystem keeps more than it should and the test proves nothing.
//
// It needs root and /dev/fuse, as CI has, and fails where it cannot mount.
func TestPowerLoss(t *testing.T) {
	full := binary(t)
	// The control's build runs while the first part does.
	normal := make(chan string, 1)
	go func() { normal <- controlBinary(t) }()
	start0 := time.Now()
	t.Run("synchronous=FULL", func(t *testing.T) {
		r := powerLossLoop(t, full, crashIterations(t), false)
		if r.lost > 0 {
			t.Fatalf("%d acknowledged saves lost in %d power cuts", r.lost, r.cuts)
		}
		if r.acked < r.cuts {
			t.Fatalf("only %d saves acknowledged in %d cuts: the cuts came too early to test anything", r.acked, r.cuts)
		}
		t.Logf("%d power cuts, %d saves acknowledged and restored byte for byte, %d unacknowledged found committed, %v",
			r.cuts, r.acked, r.committed, time.Since(start0).Round(time.Millisecond))
	})
	bin := <-normal
	if bin == "" {
		t.FailNow()
	}
	start1 := time.Now()
	t.Run("control: synchronous=NORMAL loses saves", func(t *testing.T) {
		r := powerLossLoop(t, bin, 5, true)
		if r.lost == 0 {
			t.Fatalf("synchronous=NORMAL lost nothing in %d power cuts (%d saves acknowledged): "+
				"the filesystem keeps unsynced writes, so the test cannot fail", r.cuts, r.acked)
		}
		t.Logf("control: %d of %d acknowledged saves lost at the first cut that lost any (cut %d of at most 5), %v",
			r.lost, r.acked, r.cuts, time.Since(start1).Round(time.Millisecond))
	})
}

// controlBinary builds the server with data.db on synchronous=NORMAL, which
// only the build tag can do (store/sqlite/synchronous_unsafe.go). It runs
// on its own goroutine: a failed build is an error and an empty path.
func controlBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "dailyreps-backup-unsafe")
	cmd := exec.Command("go", "build", "-tags", "dailyreps_unsafe_synchronous_normal", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go build of the control: %v\n%s", err, out)
		return ""
	}
	return bin
}

// powerCut is the power going at a random moment: the filesystem freezes
// (nothing written from now on is kept), the server dies, and the
// filesystem comes back with what was synced.
func powerCut(t *testing.T, f *lazyfs.FS, p *process) {
	t.Helper()
	f.Freeze()
	p.kill()
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
}

type powerLossResult struct {
	cuts, acked, lost, committed int
}

// powerLossLoop runs cuts power cuts in streams of saves from the server
// built at bin. With stopAtLoss (the control) it returns at the first cut
// that lost acknowledged saves; otherwise a loss fails at once.
func powerLossLoop(t *testing.T, bin string, cuts int, stopAtLoss bool) powerLossResult {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	f := lazyfs.MountForTest(t)
	dir := f.Dir()
	env := noLimits(fmt.Sprintf("DAILYREPS_HISTORY_DEPTH=%d", crashHistory))
	user := hexID("power-user")
	logs := make([]*keyLog, crashWriters)
	for i := range logs {
		logs[i] = &keyLog{acked: map[int64]int{}, nextSeq: 1}
	}
	// The user is registered before the first cut and the server stopped
	// cleanly (which syncs, whatever the setting), so that what the control
	// loses are saves, not the registration under them.
	p := startBinary(t, bin, dir, env...)
	if st, err := newAPI(p.URL).register(user); err != nil || st != http.StatusOK {
		t.Fatalf("register: %d %v", st, err)
	}
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d: %s", code, p.output())
	}
	var r powerLossResult
	p = startBinary(t, bin, dir, env...)
	for r.cuts < cuts {
		a := newAPI(p.URL)
		var wg sync.WaitGroup
		failures := make(chan error, crashWriters)
		firstAck := make(chan struct{})
		acked := sync.OnceFunc(func() { close(firstAck) })
		for k, l := range logs {
			wg.Go(func() {
				err := saveUntilPowerCut(a, user, k, l, f, acked)
				if errors.Is(err, errConnectionLost) {
					// Undecided like a save in flight at the cut, and checked
					// as one; only acknowledged saves must survive.
					t.Logf("key %d: %v; the writer stops for this round", k, err)
					err = nil
				}
				if err != nil {
					failures <- err
				}
			})
		}
		select {
		case <-firstAck:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(time.Duration(50+rng.IntN(600)) * time.Millisecond)
		powerCut(t, f, p)
		r.cuts++
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Fatalf("cut %d: %v\n%s", r.cuts, err, p.output())
		}
		integrityCheckOffMount(t, dir)

		// The server that checks is the one the next cut hits.
		p = startBinary(t, bin, dir, env...)
		a = newAPI(p.URL)
		lost := 0
		for k, l := range logs {
			n, c, err := verifyKey(a, user, k, l, r.cuts == cuts && !stopAtLoss)
			if err != nil {
				t.Fatalf("cut %d, key %d: %v", r.cuts, k, err)
			}
			lost += n
			r.committed += c
		}
		r.acked = 0
		for _, l := range logs {
			r.acked += len(l.acked)
		}
		r.lost += lost
		if lost > 0 {
			if !stopAtLoss {
				t.Fatalf("cut %d: %d acknowledged saves lost", r.cuts, lost)
			}
			return r
		}
	}
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d: %s", code, p.output())
	}
	integrityCheckOffMount(t, dir)
	return r
}

// saveUntilPowerCut saves payload after payload to key k until the power
// goes. A refusal while the power is on is an error; after the cut every
// save fails, and the one in flight may or may not have been committed.
// errConnectionLost is a save that got no answer while the power was still
// on; it may or may not have been committed.
var errConnectionLost = errors.New("no answer")

func saveUntilPowerCut(a *api, user string, k int, l *keyLog, f *lazyfs.FS, acked func()) error {
	key := hexID(fmt.Sprintf("crash-key-%d", k))
	for {
		seq := l.nextSeq
		l.nextSeq++
		l.inFlight = seq
		st, v, err := a.save(user, key, payload(k, seq), "")
		if f.Frozen() && (err != nil || st != http.StatusOK) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("save %d of key %d before the cut: %w: %v", seq, k, errConnectionLost, err)
		}
		if st != http.StatusOK {
			return fmt.Errorf("save %d of key %d before the cut: status %d", seq, k, st)
		}
		l.inFlight = 0
		l.acked[v] = seq
		l.unread = append(l.unread, v)
		l.lastSeq, l.lastVer = seq, v
		acked()
	}
}

// verifyKey is checkKey that counts lost acknowledged saves instead of
// failing at the first: the newest version must be the last acknowledged
// save or the one in flight at the cut, and every version acknowledged since
// the last check (all of them when all is set) must restore byte for byte.
// It returns how many acknowledged versions are gone or wrong, whether the
// save in flight was found committed, and an error for anything that is not
// a clean loss (a torn or foreign payload, a 5xx).
func verifyKey(a *api, user string, k int, l *keyLog, all bool) (lost, committed int, err error) {
	key := hexID(fmt.Sprintf("crash-key-%d", k))
	inFlight := l.inFlight
	l.inFlight = 0
	versions := l.unread
	if all {
		versions = versions[:0]
		for v := range l.acked {
			versions = append(versions, v)
		}
	}
	l.unread = nil
	st, data, v, err := a.get(user, key, 0)
	switch {
	case err != nil || st != http.StatusOK && st != http.StatusNotFound:
		return 0, 0, fmt.Errorf("restore after the cut: %d %v", st, err)
	case st == http.StatusNotFound:
		// Everything of this key is gone (or was never acknowledged).
		return len(versions), 0, nil
	}
	seq, ok := envelopeSeq(data)
	if !ok || data != payload(k, seq) {
		return 0, 0, fmt.Errorf("the restored data is torn or foreign (%d bytes)", len(data))
	}
	switch {
	case seq == l.lastSeq && v == l.lastVer:
	case seq == inFlight && inFlight != 0 && v == l.lastVer+1:
		committed = 1
		l.acked[v] = seq
		l.lastSeq, l.lastVer = seq, v
		versions = append(versions, v)
	case v < l.lastVer:
		// An older version is the newest: the ones after it are lost.
	default:
		return 0, 0, fmt.Errorf("restored payload %d version %d; last acknowledged %d version %d, in flight %d",
			seq, v, l.lastSeq, l.lastVer, inFlight)
	}
	for _, ver := range versions {
		seq := l.acked[ver]
		st, data, got, err := a.get(user, key, ver)
		if err != nil || st != http.StatusOK && st != http.StatusNotFound {
			return 0, 0, fmt.Errorf("acknowledged version %d: %d %v", ver, st, err)
		}
		if st == http.StatusNotFound {
			lost++
			continue
		}
		if got != ver || data != payload(k, seq) {
			return 0, 0, fmt.Errorf("acknowledged version %d restores version %d, %d bytes, not what was saved", ver, got, len(data))
		}
	}
	return lost, committed, nil
}

// envelopeSeq is payloadSeq without failing the test.
func envelopeSeq(data string) (int, bool) {
	var env struct {
		AppID string `json:"appId"`
	}
	if json.Unmarshal([]byte(data), &env) != nil {
		return 0, false
	}
	var seq int
	if _, err := fmt.Sscanf(env.AppID, "seq-%d", &seq); err != nil {
		return 0, false
	}
	return seq, true
}

// integrityCheckOffMount checks a copy of the database taken off the mount
// with plain reads. SQLite in this process would map the WAL index of a file
// on the mount into memory; a page fault there blocks a thread outside any
// system call, the garbage collector then waits for it to stop, and the
// filesystem that must answer the fault runs in this process too: a
// deadlock. A copy also leaves the state after the cut exactly as it was.
func integrityCheckOffMount(t *testing.T, dir string) {
	t.Helper()
	copyDir := t.TempDir()
	for _, name := range []string{"data.db", "data.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && name != "data.db" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	integrityCheck(t, filepath.Join(copyDir, "data.db"))
}
