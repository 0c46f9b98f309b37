// Package usage turns the store's totals and the day's counters into the
// operators' usage figures, shown in the dashboard's stats collection and in
// /metrics, and keeps the day's counters: saves and restores by outcome and
// refusal reason, and failed attempts.
//
// Figures are about the service, never about a user: see Figures for the
// rule that withholds a figure drawn from too few users.
package usage

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dailyreps/backup/metrics"
	"github.com/dailyreps/backup/store"
)

// Counter names kept per day. Refusals add the reason, from metrics.Reason's
// fixed set: "save_refused_rate_limited".
const (
	SaveOK           = "save_ok"
	SaveError        = "save_error"
	SaveRefused      = "save_refused_"
	RestoreOK        = "restore_ok"
	RestoreError     = "restore_error"
	RestoreRefused   = "restore_refused_"
	FailedAttempt    = "failed_attempt"
	savePattern      = "POST /api/backup"
	restorePattern   = "GET /api/backup"
	flushTimeout     = 10 * time.Second
	defaultFlushTime = 5 * time.Second
)

// Tally counts the day's events in memory and adds them to the store's
// counters every few seconds, so that every instance's share is summed in
// the database and the figures are the service's, not one instance's.
type Tally struct {
	st  store.Store
	now func() time.Time
	log func() *slog.Logger

	mu     sync.Mutex
	counts map[int64]map[string]int64 // by Unix day

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewTally starts a tally that flushes to st every interval (0: 5 s).
func NewTally(st store.Store, now func() time.Time, every time.Duration, logger func() *slog.Logger) *Tally {
	if every <= 0 {
		every = defaultFlushTime
	}
	t := &Tally{st: st, now: now, log: logger, counts: map[int64]map[string]int64{}, done: make(chan struct{})}
	t.wg.Add(1)
	go t.loop(every)
	return t
}

// Observe counts a finished request of the save or restore route; it has
// the signature of hooks.Observer.
func (t *Tally) Observe(pattern string, status int, _ time.Duration) {
	var ok, failed, refused string
	switch pattern {
	case savePattern:
		ok, failed, refused = SaveOK, SaveError, SaveRefused
	case restorePattern:
		ok, failed, refused = RestoreOK, RestoreError, RestoreRefused
	default:
		return
	}
	switch reason := metrics.Reason(status); {
	case reason != "":
		t.add(refused + reason)
	case status >= 500 || status < 100:
		t.add(failed)
	default:
		t.add(ok)
	}
}

// FailedAttempt counts one lookup that proved nothing (a wrong password or
// an unknown user).
func (t *Tally) FailedAttempt() { t.add(FailedAttempt) }

func (t *Tally) add(name string) {
	day := t.now().UTC().Unix() / 86400
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts[day] == nil {
		t.counts[day] = map[string]int64{}
	}
	t.counts[day][name]++
}

// Flush adds what was counted to the store. On failure the counts are kept
// for the next flush.
func (t *Tally) Flush(ctx context.Context) error {
	t.mu.Lock()
	pending := t.counts
	t.counts = map[int64]map[string]int64{}
	t.mu.Unlock()
	for day, counts := range pending {
		if err := t.st.AddUsage(ctx, time.Unix(day*86400, 0).UTC(), counts); err != nil {
			t.mu.Lock()
			for d, c := range pending {
				for name, n := range c {
					if t.counts[d] == nil {
						t.counts[d] = map[string]int64{}
					}
					t.counts[d][name] += n
				}
			}
			t.mu.Unlock()
			return err
		}
		delete(pending, day)
	}
	return nil
}

// Close flushes and stops the tally.
func (t *Tally) Close() {
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
}

func (t *Tally) loop(every time.Duration) {
	defer t.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-t.done:
			t.flushLogged()
			return
		}
		t.flushLogged()
	}
}

func (t *Tally) flushLogged() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := t.Flush(ctx); err != nil && t.log != nil {
		t.log().Warn("usage counters not recorded", "error", err.Error())
	}
}

// reasonOf is the refusal reason of a counter name with the given prefix.
func reasonOf(name, prefix string) (string, bool) { return strings.CutPrefix(name, prefix) }
