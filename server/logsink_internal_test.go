package server

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/logger"

	"github.com/dailyreps/backup/store/sqlite"
)

// A flood of log lines while the log database is slow must not pile up
// goroutines (each holding a full batch): the batches waiting are bounded,
// and what does not fit is counted as dropped, never silently lost.
func TestLogSinkBoundsPendingBatches(t *testing.T) {
	app, err := tests.NewTestAppWithConfig(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: sqlite.DBConnect})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	app.Settings().Logs.MaxDays = 7
	if !app.Logger().Enabled(context.Background(), slog.LevelWarn) {
		t.Fatal("the app logs no warnings")
	}
	sink := newLogSink(app)
	release := make(chan struct{})
	var written atomic.Int64
	var once sync.Once
	sink.insert = func(logs []*logger.Log) {
		<-release // the log database is stuck
		written.Add(int64(len(logs)))
	}
	l := slog.New(sink)

	before := runtime.NumGoroutine()
	const batches = 50
	for range batches * sinkBatchSize {
		l.LogAttrs(context.Background(), slog.LevelWarn, "flood")
	}
	time.Sleep(100 * time.Millisecond) // let any spawned writer start
	grown := runtime.NumGoroutine() - before
	once.Do(func() { close(release) })
	sink.flush()

	if grown > 3 {
		t.Errorf("%d goroutines added by %d full batches while the writes were stuck; want a bounded number", grown, batches)
	}
	total := written.Load() + sink.droppedLines()
	if total != batches*sinkBatchSize {
		t.Errorf("written %d + dropped %d lines, want %d", written.Load(), sink.droppedLines(), batches*sinkBatchSize)
	}
	if written.Load() < sinkQueue*sinkBatchSize {
		t.Errorf("only %d lines written; the queue should have held %d", written.Load(), sinkQueue*sinkBatchSize)
	}
}
