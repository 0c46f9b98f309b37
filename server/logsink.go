package server

import (
	"context"
	"database/sql"
	"log"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/logger"
	"github.com/pocketbase/pocketbase/tools/types"
)

// logSink writes the server's own log lines (one per API request, and its
// warnings) into PocketBase's _logs table, where the dashboard shows them,
// as PocketBase's logger does, at a fraction of the cost: PocketBase saves
// each line as a model, through hooks and an INSERT built and compiled per
// row, which took a third of the CPU of a small restore. The sink inserts each
// batch with one prepared statement.
//
// Everything else is PocketBase's: its handler decides which levels are on
// (the dashboard's minimum level), its batch handler turns records into log
// data, its Log model truncates what is too long, the logs' retention setting
// applies, and in dev mode the lines go through PocketBase's handler, which
// also prints them.
type logSink struct {
	*sinkState
	batch slog.Handler                    // the batch handler, with this sink's attributes and groups
	wrap  func(slog.Handler) slog.Handler // the same attributes and groups, for PocketBase's handler
}

type sinkState struct {
	app   core.App
	batch *logger.BatchHandler
	start sync.Once
	stop  chan struct{}
	done  sync.WaitGroup // the writer
	// Full batches wait here for the one writer. When the log database
	// cannot keep up (a flood of refusals, a slow disk) what does not fit is
	// dropped and counted: requests never wait for their log line, and
	// memory stays bounded. Standard output still has every request.
	queue   chan []*logger.Log
	dropped atomic.Int64 // lines dropped since the last report
	lost    atomic.Int64 // lines dropped in all
	insert  func([]*logger.Log)
}

const (
	sinkBatchSize = 200             // as PocketBase's logger
	sinkInterval  = 3 * time.Second // as PocketBase's logger
	sinkQueue     = 8               // full batches waiting: 1,600 lines
)

type blockKey struct{}

func newLogSink(app core.App) *logSink {
	st := &sinkState{app: app, stop: make(chan struct{}), queue: make(chan []*logger.Log, sinkQueue)}
	st.insert = st.write
	st.batch = logger.NewBatchHandler(logger.BatchOptions{
		BatchSize: sinkBatchSize,
		BeforeAddFunc: func(context.Context, *logger.Log) bool {
			return app.Settings().Logs.MaxDays > 0
		},
		WriteFunc: func(ctx context.Context, logs []*logger.Log) error {
			// A full batch is written off the request that filled it.
			if block, _ := ctx.Value(blockKey{}).(bool); block {
				st.insert(logs)
				return nil
			}
			select {
			case st.queue <- logs:
			default:
				st.dropped.Add(int64(len(logs)))
				st.lost.Add(int64(len(logs)))
			}
			return nil
		},
	})
	// Write what is left before the databases close, as PocketBase does for
	// its own lines (just before it, at -999).
	app.OnBootstrapClear().Bind(&hook.Handler[*core.BootstrapEvent]{
		Id:       "drLogSinkFlush",
		Priority: -1000,
		Func: func(e *core.BootstrapEvent) error {
			st.flush()
			return e.Next()
		},
	})
	return &logSink{sinkState: st, batch: st.batch, wrap: func(h slog.Handler) slog.Handler { return h }}
}

// pb is PocketBase's own handler, nil before the app is bootstrapped.
func (s *logSink) pb() slog.Handler {
	if l := s.app.Logger(); l != nil {
		return l.Handler()
	}
	return nil
}

func (s *logSink) Enabled(ctx context.Context, level slog.Level) bool {
	h := s.pb()
	return h != nil && h.Enabled(ctx, level)
}

func (s *logSink) Handle(ctx context.Context, r slog.Record) error {
	if s.app.IsDev() {
		if h := s.pb(); h != nil {
			return s.wrap(h).Handle(ctx, r)
		}
	}
	s.start.Do(func() { s.done.Go(s.run) })
	return s.batch.Handle(ctx, r)
}

func (s *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logSink{s.sinkState, s.batch.WithAttrs(attrs), func(h slog.Handler) slog.Handler { return s.wrap(h).WithAttrs(attrs) }}
}

func (s *logSink) WithGroup(name string) slog.Handler {
	return &logSink{s.sinkState, s.batch.WithGroup(name), func(h slog.Handler) slog.Handler { return s.wrap(h).WithGroup(name) }}
}

// run is the one writer: full batches as they come, the rest every few
// seconds.
func (st *sinkState) run() {
	t := time.NewTicker(sinkInterval)
	defer t.Stop()
	block := context.WithValue(context.Background(), blockKey{}, true)
	for {
		select {
		case <-st.stop:
			return
		case logs := <-st.queue:
			st.insert(logs)
		case <-t.C:
			_ = st.batch.WriteAll(block)
		}
		if n := st.dropped.Swap(0); n > 0 {
			log.Printf("Dropped %d log lines: the log database could not keep up", n)
		}
	}
}

// flush writes every pending line, in order, once the writer has stopped.
func (st *sinkState) flush() {
	select {
	case <-st.stop:
	default:
		close(st.stop)
	}
	st.done.Wait()
	for len(st.queue) > 0 {
		st.insert(<-st.queue)
	}
	_ = st.batch.WriteAll(context.WithValue(context.Background(), blockKey{}, true))
}

// droppedLines is how many lines were dropped since the start.
func (st *sinkState) droppedLines() int64 { return st.lost.Load() }

const insertLog = `INSERT INTO _logs (id, level, message, data, created) VALUES (?, ?, ?, ?, ?)`

func (st *sinkState) write(logs []*logger.Log) {
	if !st.app.IsBootstrapped() {
		return
	}
	aux, ok := st.app.AuxNonconcurrentDB().(*dbx.DB)
	if !ok {
		return // inside an aux transaction (only PocketBase's own code opens them)
	}
	if err := insertLogs(aux.DB(), st.app, logs); err != nil {
		log.Println("Failed to write logs:", err)
	}
}

func insertLogs(db *sql.DB, app core.App, logs []*logger.Log) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.Prepare(insertLog)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, l := range logs {
		m := &core.Log{Message: l.Message, Level: int(l.Level), Data: l.Data}
		m.Id = core.GenerateDefaultRandomId()
		m.Created, _ = types.ParseDateTime(l.Time)
		row, err := m.DBExport(app) // PocketBase's truncation of long lines
		if err != nil {
			return err
		}
		if _, err := stmt.Exec(row["id"], row["level"], row["message"], row["data"], row["created"]); err != nil {
			return err
		}
	}
	return tx.Commit()
}
