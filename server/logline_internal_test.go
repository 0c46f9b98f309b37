package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFlatJSONWritesWhatTheJSONHandlerWrites holds the standard-output log to
// slog's JSON handler byte for byte, whichever of the two formats a line: log
// shippers parse these lines, and the fast path must never change one.
func TestFlatJSONWritesWhatTheJSONHandlerWrites(t *testing.T) {
	at := time.Date(2026, 12, 7, 4, 30, 1, 234567890, time.UTC)
	type line struct {
		level slog.Level
		msg   string
		attrs []slog.Attr
		fast  bool // the fast path must take it
	}
	request := []slog.Attr{slog.String("requestId", "0a1b2c3d-4e5f6a7b"), slog.String("route", "GET /api/backup"),
		slog.Int("status", 200), slog.Float64("durationMs", 0.123), slog.Int64("bytesIn", 0), slog.Int64("bytesOut", 1104)}
	lines := []line{
		{slog.LevelInfo, "request", request, true},
		{slog.LevelError, "request", append(request[:2:2], slog.Int("status", 503), slog.Float64("durationMs", 30001.5)), true},
		{slog.LevelWarn, "pruning expired records failed", []slog.Attr{slog.String("error", "disk I/O error")}, true},
		{slog.LevelInfo + 2, "odd level", nil, true},
		{slog.LevelDebug, "numbers", []slog.Attr{slog.Uint64("u", math.MaxUint64), slog.Int64("i", math.MinInt64), slog.Bool("b", true),
			slog.Float64("zero", 0), slog.Float64("negzero", math.Copysign(0, -1)), slog.Float64("small", 1e-6), slog.Float64("big", 9.99e20),
			slog.Float64("third", 1.0/3), slog.Float64("neg", -42.5)}, true},
		{slog.LevelInfo, "tiny float", []slog.Attr{slog.Float64("f", 1e-7)}, false},
		{slog.LevelInfo, "huge float", []slog.Attr{slog.Float64("f", 1e21)}, false},
		{slog.LevelInfo, "nan", []slog.Attr{slog.Float64("f", math.NaN())}, false},
		{slog.LevelInfo, "inf", []slog.Attr{slog.Float64("f", math.Inf(-1))}, false},
		{slog.LevelInfo, `quote " in message`, nil, false},
		{slog.LevelInfo, "escapes", []slog.Attr{slog.String("error", "line\nbreak\ttab \\ é <&>")}, false},
		{slog.LevelInfo, "key", []slog.Attr{slog.String("ké", "v")}, false},
		{slog.LevelInfo, "html is not escaped", []slog.Attr{slog.String("s", "<a href='x'>&amp;</a>")}, true},
		{slog.LevelInfo, "kinds", []slog.Attr{slog.Duration("d", time.Second), slog.Time("t", at), slog.Any("e", errors.New("boom")),
			slog.Any("m", map[string]int{"a": 1}), slog.Group("g", slog.Int("x", 1))}, false},
		{slog.LevelInfo, "empty key", []slog.Attr{{Key: "", Value: slog.IntValue(1)}}, false},
		{slog.LevelInfo, "", nil, true},
	}
	for _, l := range lines {
		for _, zeroTime := range []bool{false, true} {
			rec := slog.NewRecord(at, l.level, l.msg, 0)
			if zeroTime {
				rec = slog.NewRecord(time.Time{}, l.level, l.msg, 0)
			}
			rec.AddAttrs(l.attrs...)
			var want, got bytes.Buffer
			if err := slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if err := newFlatJSON(newLineWriter(&got, 0)).Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%q:\n got %s\nwant %s", l.msg, got.String(), want.String())
			}
			if _, fast := appendFlatLine(nil, rec); fast != l.fast {
				t.Errorf("%q: taken by the fast path %v, want %v", l.msg, fast, l.fast)
			}
		}
	}

	// Attributes and groups added through With go to the JSON handler.
	var want, got bytes.Buffer
	slog.New(slog.NewJSONHandler(&want, nil)).With("a", 1).WithGroup("g").Info("m", "b", 2)
	slog.New(newFlatJSON(newLineWriter(&got, 0))).With("a", 1).WithGroup("g").Info("m", "b", 2)
	if strip(got.String()) != strip(want.String()) || !strings.Contains(got.String(), `"g":{"b":2}`) {
		t.Errorf("With:\n got %s\nwant %s", got.String(), want.String())
	}
}

// strip drops the time, which two loggers take a moment apart.
func strip(s string) string {
	if i := strings.Index(s, `"level"`); i >= 0 {
		return s[i:]
	}
	return s
}

// TestFlatJSONWritesWholeLines: lines formatted by either path, from many
// goroutines, never interleave.
func TestFlatJSONWritesWholeLines(t *testing.T) {
	var out bytes.Buffer
	w := newLineWriter(&out, time.Hour)
	l := slog.New(newFlatJSON(w))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Info("request", "status", 200, "durationMs", 0.5)
				l.Info("needs \"escaping\"", "d", time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 8*200*2 {
		t.Fatalf("%d lines, want %d", len(got), 8*200*2)
	}
	for _, s := range got {
		if !strings.HasPrefix(s, `{"time":"`) || !strings.HasSuffix(s, "}") || strings.Count(s, `"time"`) != 1 {
			t.Fatalf("a broken line: %s", s)
		}
	}
}

// TestLineWriterGathersLinesBriefly: a delayed writer holds lines until its
// delay passes, a warning, a full buffer or Direct, in order, and Direct
// makes every later line immediate.
func TestLineWriterGathersLinesBriefly(t *testing.T) {
	var out syncBuf
	w := newLineWriter(&out, time.Hour)
	l := slog.New(newFlatJSON(w))
	l.Info("request", "status", 200)
	if out.String() != "" {
		t.Fatal("a line was written before its delay")
	}
	l.Warn("disk is slow")
	if got := out.String(); strings.Count(got, "\n") != 2 || strings.Index(got, `"request"`) > strings.Index(got, "disk is slow") {
		t.Fatalf("a warning did not write what waited before it, in order: %q", got)
	}
	big := strings.Repeat("x", 1000)
	for range maxPending / 1000 {
		l.Info("request", "route", big)
	}
	if n := strings.Count(out.String(), "\n"); n <= 2 {
		t.Fatal("a full buffer was not written")
	}
	if err := w.Direct(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 2+maxPending/1000 {
		t.Fatalf("%d lines after Direct, want %d", n, 2+maxPending/1000)
	}
	l.Info("after")
	if !strings.Contains(out.String(), `"msg":"after"`) {
		t.Fatal("a line after Direct waited")
	}

	timed := newLineWriter(&out, 20*time.Millisecond)
	slog.New(newFlatJSON(timed)).Info("timed")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), `"msg":"timed"`) {
		if time.Now().After(deadline) {
			t.Fatal("a waiting line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
