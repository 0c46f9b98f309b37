// Package activity records the events of each backup's access log (saved,
// restored, failed attempt) off the request path: a restore is a read, and
// making it wait for a synced write would halve read throughput. Events are
// batched and written once a second in one transaction; a crash can lose at
// most the last second of them, never a backup.
package activity

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dailyreps/backup/store"
)

// Recorder batches events for a store. Record never blocks a request: when
// the buffer is full, the event is dropped and counted.
type Recorder struct {
	st      store.Store
	ch      chan store.EventRecord
	every   time.Duration
	log     func() *slog.Logger
	mu      sync.Mutex
	done    chan struct{}
	closed  bool
	wg      sync.WaitGroup
	dropped atomic.Int64
	tap     atomic.Pointer[func(kind string)]
}

// New starts a recorder that writes to st every interval.
func New(st store.Store, every time.Duration, logger func() *slog.Logger) *Recorder {
	r := &Recorder{st: st, ch: make(chan store.EventRecord, 4096), every: every, log: logger, done: make(chan struct{})}
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
	var batch []store.EventRecord
	for {
		select {
		case ev := <-r.ch:
			batch = append(batch, ev)
			continue
		default:
		}
		break
	}
	return r.st.RecordEvents(ctx, batch)
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
	for {
		select {
		case <-t.C:
		case <-r.done:
			r.flushLogged()
			return
		}
		r.flushLogged()
	}
}

func (r *Recorder) flushLogged() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil && r.log != nil {
		r.log().Warn("activity events not recorded", "error", err.Error())
	}
}
