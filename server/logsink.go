package server

import (
	"context"
	"database/sql"
	"log"
	"log/slog"
	"sync"
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
	app     core.App
	batch   *logger.BatchHandler
	start   sync.Once
	stop    chan struct{}
	writing sync.WaitGroup // batches being written in the background
}

const (
	sinkBatchSize = 200             // as PocketBase's logger
	sinkInterval  = 3 * time.Second // as PocketBase's logger
)

type blockKey struct{}

func newLogSink(app core.App) *logSink {
	st := &sinkState{app: app, stop: make(chan struct{})}
	st.batch = logger.NewBatchHandler(logger.BatchOptions{
		BatchSize: sinkBatchSize,
		BeforeAddFunc: func(context.Context, *logger.Log) bool {
			return app.Settings().Logs.MaxDays > 0
		},
		WriteFunc: func(ctx context.Context, logs []*logger.Log) error {
			// A full batch is written off the request that filled it.
			if block, _ := ctx.Value(blockKey{}).(bool); block {
				st.write(logs)
				return nil
			}
			st.writing.Go(func() { st.write(logs) })
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
	s.start.Do(func() { go s.tick() })
	return s.batch.Handle(ctx, r)
}

func (s *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logSink{s.sinkState, s.batch.WithAttrs(attrs), func(h slog.Handler) slog.Handler { return s.wrap(h).WithAttrs(attrs) }}
}

func (s *logSink) WithGroup(name string) slog.Handler {
	return &logSink{s.sinkState, s.batch.WithGroup(name), func(h slog.Handler) slog.Handler { return s.wrap(h).WithGroup(name) }}
}

func (st *sinkState) tick() {
	t := time.NewTicker(sinkInterval)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			_ = st.batch.WriteAll(context.Background())
		}
	}
}

// flush writes every pending line and waits for the batches in flight.
func (st *sinkState) flush() {
	_ = st.batch.WriteAll(context.WithValue(context.Background(), blockKey{}, true))
	st.writing.Wait()
	select {
	case <-st.stop:
	default:
		close(st.stop)
	}
}

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
