package server

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// flatJSON writes the lines the server logs most, one per request, exactly
// as slog's JSON handler writes them, byte for byte, at a fraction of its
// cost: the JSON handler prints every float through encoding/json and builds
// each line through a general-purpose state, which took 8% of the CPU of a
// small restore. A line it cannot write exactly as the JSON handler would (a
// value of another kind, a string that needs escaping, a float that
// encoding/json prints with an exponent, attributes or groups added through
// With) goes to the JSON handler itself, which shares the writer and its lock.
type flatJSON struct {
	json slog.Handler
	out  *lineWriter
}

func newFlatJSON(out *lineWriter) flatJSON {
	return flatJSON{slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}), out}
}

func (f flatJSON) Enabled(ctx context.Context, l slog.Level) bool { return f.json.Enabled(ctx, l) }

func (f flatJSON) WithAttrs(a []slog.Attr) slog.Handler { return f.json.WithAttrs(a) }

func (f flatJSON) WithGroup(n string) slog.Handler { return f.json.WithGroup(n) }

func (f flatJSON) Handle(ctx context.Context, rec slog.Record) error {
	bp := lineBuffers.Get().(*[]byte)
	defer lineBuffers.Put(bp)
	line, ok := appendFlatLine((*bp)[:0], rec)
	*bp = line[:0]
	var err error
	if ok {
		_, err = f.out.Write(line)
	} else {
		err = f.json.Handle(ctx, rec)
	}
	if rec.Level >= slog.LevelWarn {
		if ferr := f.out.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendFlatLine appends rec as the JSON handler writes it, or reports that
// it cannot.
func appendFlatLine(b []byte, rec slog.Record) ([]byte, bool) {
	b = append(b, '{')
	if !rec.Time.IsZero() {
		if y := rec.Time.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = rec.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b, ok := appendPlainString(b, rec.Level.String())
	b = append(b, `,"msg":`...)
	b, okMsg := appendPlainString(b, rec.Message)
	ok = ok && okMsg
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false // the JSON handler's rules for empty keys are not worth copying
		}
		if !ok {
			return false
		}
		b = append(b, ',')
		b, ok = appendPlainString(b, a.Key)
		b = append(b, ':')
		var okValue bool
		b, okValue = appendFlatValue(b, a.Value)
		ok = ok && okValue
		return ok
	})
	return append(b, "}\n"...), ok
}

func appendFlatValue(b []byte, v slog.Value) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return appendPlainString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindFloat64:
		// encoding/json prints a float in 'f' form, shortest, when it is 0 or
		// its magnitude lies in [1e-6, 1e21); elsewhere (and NaN, infinities)
		// the JSON handler is left to do what it does.
		f := v.Float64()
		if a := math.Abs(f); f != 0 && (a < 1e-6 || a >= 1e21 || math.IsNaN(f)) {
			return b, false
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64), true
	}
	return b, false
}

// appendPlainString quotes s when no byte of it needs escaping (printable
// ASCII other than '"' and '\'), as the JSON handler would.
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// lineWriter makes each line one write, whoever formats it. With a delay
// it gathers the lines of up to that long into one write: on standard output
// a write system call per request was 4% of a small restore's CPU. A line
// then waits at most the delay (a crash loses at most that much of the log);
// warnings and errors are written at once, with what waits before them, and
// from Direct on (the server's shutdown) every line is.
type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	delay time.Duration // 0: every line written at once
	buf   []byte
	timer *time.Timer // the pending flush
}

// stdoutDelay is how long a line on standard output may wait for others:
// short enough that a person watching the log sees nothing of it.
const stdoutDelay = 50 * time.Millisecond

// maxPending is what a delayed write gathers before it writes at once.
const maxPending = 64 << 10

func newLineWriter(w io.Writer, delay time.Duration) *lineWriter {
	return &lineWriter{w: w, delay: delay}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.delay == 0 {
		return l.w.Write(p)
	}
	if len(l.buf)+len(p) > maxPending {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
	}
	l.buf = append(l.buf, p...)
	if l.timer == nil {
		l.timer = time.AfterFunc(l.delay, func() { _ = l.Flush() })
	}
	return len(p), nil
}

// Flush writes what waits.
func (l *lineWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

// Direct writes what waits and every later line at once.
func (l *lineWriter) Direct() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delay = 0
	return l.flushLocked()
}

func (l *lineWriter) flushLocked() error {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}
