// Package activity records the events of each backup's access log (saved,
// restored, failed attempt) off the request path: a restore is a read, and
// making it wait for a synced write would halve read throughput. Events are
// batched and written once a second in one transaction; a crash can lose at
// most the last second of them, never a backup.
//
// Restores alone are written ten times less often (every ten seconds, or at
// once when a save, a deleted version or a failed attempt joins the batch).
// On SQLite every write makes each reader connection discard its page cache,
// so a write a second under a stream of restores had every restore read its
// pages from the file again. The price: a crash can lose the last ten
// seconds of restore events (never a save's, a prune's or a failed
// attempt's, which keep the one-second window).
package activity

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dailyreps/backup/store"
)

// restoresWait is how many intervals a batch of nothing but restores waits.
const restoresWait = 10

// bufferSize bounds the queue (events), and the restores held back (backups
// and minutes).
const bufferSize = 4096

// Recorder batches events for a store. Record never blocks a request: when
// the buffer is full, the event is dropped and counted.
type Recorder struct {
	st      store.Store
	ch      chan store.EventRecord
	every   time.Duration
	log     func() *slog.Logger
	mu      sync.Mutex
	held    map[heldKey]*store.EventRecord // restores taken from ch, waiting for a write (under flushMu)
	flushMu sync.Mutex
	done    chan struct{}
	closed  bool
	wg      sync.WaitGroup
	dropped atomic.Int64
	tap     atomic.Pointer[func(kind string)]
}

// New starts a recorder that writes to st every interval.
func New(st store.Store, every time.Duration, logger func() *slog.Logger) *Recorder {
	r := &Recorder{st: st, ch: make(chan store.EventRecord, bufferSize), every: every, log: logger, done: make(chan struct{}),
		held: map[heldKey]*store.EventRecord{}}
	r.wg.Add(1)
	go r.loop()
	return r
}

// Tap has f called with the kind of every event recorded from now on (the
// day's usage counters count failed attempts this way).
func (r *Recorder) Tap(f func(kind string)) { r.tap.Store(&f) }

// Record queues one event.
func (r *Recorder) Record(user, key, kind string, at time.Time) {
	if f := r.tap.Load(); f != nil {
		(*f)(kind)
	}
	select {
	case r.ch <- store.EventRecord{User: user, Key: key, Kind: kind, At: at}:
	default:
		r.dropped.Add(1)
	}
}

// Dropped counts the events lost to a full buffer.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Flush writes what is queued now.
func (r *Recorder) Flush(ctx context.Context) error {
	_, err := r.flush(ctx, true)
	return err
}

// flush takes what is queued and writes it with the restores held back;
// unless all is set, a batch of restores alone is held back instead (and
// written reports false), merged per backup and minute, until it spans a
// buffer's worth of them.
func (r *Recorder) flush(ctx context.Context, all bool) (written bool, err error) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	var batch []store.EventRecord
	urgent := all
	for {
		select {
		case ev := <-r.ch:
			if ev.Kind == store.EventRestored {
				r.hold(ev)
			} else {
				batch = append(batch, ev)
				urgent = true
			}
			continue
		default:
		}
		break
	}
	if !urgent && len(r.held) < bufferSize {
		return false, nil
	}
	for _, ev := range r.held {
		batch = append(batch, *ev)
	}
	clear(r.held)
	return true, r.st.RecordEvents(ctx, batch)
}

// heldKey is what the store merges restores by: one backup, one minute.
type heldKey struct {
	user, key string
	minute    int64
}

func (r *Recorder) hold(ev store.EventRecord) {
	k := heldKey{ev.User, ev.Key, ev.At.Unix() / 60}
	if h := r.held[k]; h != nil {
		h.Count += max(ev.Count, 1)
		return
	}
	ev.Count = max(ev.Count, 1)
	r.held[k] = &ev
}

// Close flushes and stops the recorder.
func (r *Recorder) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
}

func (r *Recorder) loop() {
	defer r.wg.Done()
	t := time.NewTicker(r.every)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-t.C:
		case <-r.done:
			r.flushLogged(true)
			return
		}
		ticks++
		if r.flushLogged(ticks >= restoresWait) {
			ticks = 0
		}
	}
}

// flushLogged flushes (see flush) and logs a failure; it reports whether it
// wrote, or tried to.
func (r *Recorder) flushLogged(all bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	written, err := r.flush(ctx, all)
	if err != nil && r.log != nil {
		r.log().Warn("activity events not recorded", "error", err.Error())
	}
	return written
}
