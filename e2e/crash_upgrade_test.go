package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dailyreps/backup/servertest/lazyfs"
)

// An upgrade from v1 is one transaction and can always be resumed: the
// server is killed (SIGKILL) while upgrades are in flight, again and again.
// After every restart each v1 backup is either whole on v1 (every version
// byte for byte) or whole in its account (every version byte for byte under
// its backupId, with its sealed v1 key, and nothing left on v1); an upgrade
// answered 200 is always the latter; and repeating the upgrade with the same
// material answers 200 either way, which is how a client resumes. It runs on
// the suite's backend.
func TestCrashDuringUpgrade(t *testing.T) {
	b := suiteBackend(t)
	dir := t.TempDir()
	upgradeCutLoop(t, b.name, binary(t), dir, b.env(), func(p *process) { p.kill() }, func() {
		integrityCheck(t, filepath.Join(dir, "data.db"))
		integrityCheck(t, filepath.Join(dir, "auxiliary.db"))
	})
}

// The same with the power going instead of the process (SQLite on lazyfs,
// see TestPowerLoss): an upgrade answered 200 was synced, and one the cut
// caught is whole on one side or the other, and resumes.
func TestPowerLossDuringUpgrade(t *testing.T) {
	f := lazyfs.MountForTest(t)
	dir := f.Dir()
	upgradeCutLoop(t, "sqlite on lazyfs", binary(t), dir, nil, func(p *process) { powerCut(t, f, p) },
		func() { integrityCheckOffMount(t, dir) })
}

// upgradeCutLoop runs batches of upgrades on the server built at bin into
// cut (a kill or a power cut) and checks each batch after the restart;
// afterCut checks the files.
func upgradeCutLoop(t *testing.T, name, bin, dir string, backendEnv []string, cut func(*process), afterCut func()) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	env := append(noLimits(), backendEnv...)
	iterations := crashIterations(t)
	const perRun, workers = 12, 3

	start0 := time.Now()
	var tally upgradeTally
	var pending []*upgradeCase
	for it := 0; ; it++ {
		p := startBinary(t, bin, dir, env...)
		a := newAPI(p.URL)
		for _, c := range pending {
			checkUpgrade(t, a, c, &tally)
		}
		if it == iterations {
			if code := p.terminate(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d: %s", code, p.output())
			}
			break
		}

		// A batch of v1 users, each with a backup of a few versions.
		pending = nil
		for i := range perRun {
			pending = append(pending, newUpgradeCase(t, a, rng, it, i))
		}
		jobs := make(chan *upgradeCase, len(pending))
		for _, c := range pending {
			jobs <- c
		}
		close(jobs)
		var wg sync.WaitGroup
		firstAck := make(chan struct{})
		acked := sync.OnceFunc(func() { close(firstAck) })
		failures := make(chan error, perRun)
		for range workers {
			wg.Go(func() {
				for c := range jobs {
					c.state = upgradeInFlight
					st, _, err := a.v2Upgrade(c.m, c.user, c.key, c.backup)
					if err != nil {
						return // the server died with this upgrade in flight
					}
					if st != http.StatusOK {
						failures <- fmt.Errorf("upgrade of %s: status %d", c.name, st)
						return
					}
					c.state = upgradeAcked
					acked()
				}
			})
		}
		select {
		case <-firstAck:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(time.Duration(rng.IntN(12)) * time.Millisecond)
		cut(p)
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Errorf("run %d: %v", it, err)
		}
		if t.Failed() {
			t.Fatalf("server errors: %s\n%s", serverErrors(t, dir), p.output())
		}
		afterCut()
	}
	afterCut()
	if tally.acked < iterations {
		t.Fatalf("only %d upgrades acknowledged in %d runs: the cuts came too early to test anything", tally.acked, iterations)
	}
	t.Logf("%s: %d cuts; upgrades: %d acknowledged, %d in flight found committed, %d in flight found not, %d never sent; all resumed and restored byte for byte, %v",
		name, iterations, tally.acked, tally.inFlightCommitted, tally.inFlightNot, tally.notSent, time.Since(start0).Round(time.Millisecond))
}

type upgradeState int

const (
	upgradeNotSent upgradeState = iota
	upgradeInFlight
	upgradeAcked
)

// upgradeCase is one v1 backup to upgrade and what was stored in it.
type upgradeCase struct {
	name, user, key, backup string
	m                       v2Material
	versions                []string // data by version - 1
	state                   upgradeState
}

type upgradeTally struct{ acked, inFlightCommitted, inFlightNot, notSent int }

func newUpgradeCase(t *testing.T, a *api, rng *rand.Rand, it, i int) *upgradeCase {
	t.Helper()
	name := fmt.Sprintf("upgrade-%d-%d", it, i)
	c := &upgradeCase{name: name, user: hexID("user:" + name), key: hexID("key:" + name), backup: backupID(name),
		m: newV2Material(name)}
	if st, err := a.register(c.user); err != nil || st != http.StatusOK {
		t.Fatalf("register %s: %d %v", name, st, err)
	}
	for seq := 1; seq <= 1+rng.IntN(4); seq++ {
		data := sizedPayload(it*100+i, seq, 512+rng.IntN(16<<10))
		st, v, err := a.save(c.user, c.key, data, "")
		if err != nil || st != http.StatusOK || v != int64(seq) {
			t.Fatalf("save %d of %s: %d, version %d, %v", seq, name, st, v, err)
		}
		c.versions = append(c.versions, data)
	}
	return c
}

// checkUpgrade reads a case back after a crash, resumes its upgrade and
// checks the account's copy.
func checkUpgrade(t *testing.T, a *api, c *upgradeCase, tally *upgradeTally) {
	t.Helper()
	st, _, _, err := a.get(c.user, c.key, 0)
	switch {
	case err != nil:
		t.Fatalf("%s: v1 restore after a crash: %v", c.name, err)
	case st == http.StatusOK: // not moved: v1 whole
		if c.state == upgradeAcked {
			t.Fatalf("%s: an acknowledged upgrade is not committed", c.name)
		}
		for v, want := range c.versions {
			st, data, got, err := a.get(c.user, c.key, int64(v+1))
			if err != nil || st != http.StatusOK || got != int64(v+1) || data != want {
				t.Fatalf("%s: v1 version %d after a crash: %d %v (version %d, %d bytes)", c.name, v+1, st, err, got, len(data))
			}
		}
		if c.state == upgradeInFlight {
			tally.inFlightNot++
		} else {
			tally.notSent++
		}
	case st == http.StatusNotFound: // moved
		switch c.state {
		case upgradeNotSent:
			t.Fatalf("%s: moved without an upgrade sent", c.name)
		case upgradeInFlight:
			tally.inFlightCommitted++
		default:
			tally.acked++
		}
	default:
		t.Fatalf("%s: v1 restore after a crash: %d", c.name, st)
	}

	// The same material resumes (or, never sent, runs) the upgrade.
	st, token, err := a.v2Upgrade(c.m, c.user, c.key, c.backup)
	if err != nil || st != http.StatusOK {
		if st == http.StatusNotFound {
			// Registering again tells a lost user (200) from a user whose
			// backup alone went missing (409).
			reg, _ := a.register(c.user)
			t.Fatalf("%s: lost: neither on v1 nor in an account (upgrade %v; registering the user again: %d)", c.name, c.state, reg)
		}
		t.Fatalf("%s: resumed upgrade: %d %v", c.name, st, err)
	}
	for v, want := range c.versions {
		st, got, err := a.v2Get(token, c.backup, int64(v+1))
		if err != nil || st != http.StatusOK || got.Version != int64(v+1) || got.Data != want || got.WrappedLegacyKey != c.m.WrappedLegacyKey {
			t.Fatalf("%s: version %d in the account: %d %v (version %d, %d bytes, legacy key %q)", c.name, v+1, st, err,
				got.Version, len(got.Data), got.WrappedLegacyKey)
		}
	}
	if st, _, _, err := a.get(c.user, c.key, 0); err != nil || st != http.StatusNotFound {
		t.Fatalf("%s: v1 restore after the upgrade: %d %v", c.name, st, err)
	}
	// Another's material cannot take the account over.
	if st, _, err := a.v2Upgrade(newV2Material("intruder"), c.user, c.key, c.backup); err != nil || st != http.StatusConflict {
		t.Fatalf("%s: upgrade with another's material: %d %v", c.name, st, err)
	}
	if st, _, err := a.v2Login(c.user, c.m.Auth); err != nil || st != http.StatusOK {
		t.Fatalf("%s: login after the upgrade: %d %v", c.name, st, err)
	}
}
