package hooks

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// AccessLogMessage is the message of AccessLog's lines.
const AccessLogMessage = "request"

// Observer receives one call per finished API request (metrics).
type Observer func(route string, status int, took time.Duration)

// AccessLog writes one structured line per API request, in place of
// PocketBase's request log, which is unbound from the API because it records
// full URIs and client addresses. The line holds a request id (the client's
// X-Request-Id when it is short and holds no long hex run, echoed back), the route pattern (never the
// URL), the status, the duration and the request and response body sizes:
// never an id, key or data.
func AccessLog(logger func() *slog.Logger, observe Observer) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdAccessLog,
		Priority: PriorityAccessLog,
		Func: func(e *core.RequestEvent) error {
			start := time.Now()
			id := e.Request.Header.Get("X-Request-Id")
			if !saneRequestID(id) {
				id = newRequestID()
			}
			e.Set(keyRequestID, id)
			e.Response.Header().Set("X-Request-Id", id)

			counted := &countingWriter{ResponseWriter: e.Response}
			e.Response = counted
			err := e.Next()
			e.Response = counted.ResponseWriter

			status := counted.Status()
			if status == 0 {
				status = router.ToApiError(err).Status
			}
			took := time.Since(start)
			route := e.Request.Pattern
			if observe != nil {
				observe(route, status, took)
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			logger().Log(e.Request.Context(), level, AccessLogMessage,
				"requestId", id, "route", route, "status", status,
				"durationMs", float64(took.Microseconds())/1000,
				"bytesIn", max(e.Request.ContentLength, bodyRead(e)), "bytesOut", counted.size)
			return err
		},
	}
}

// countingWriter counts the body bytes written. It answers the write and
// status questions inner middlewares ask the response itself (router's
// WriteTracker and StatusTracker), and unwraps for http.ResponseController.
type countingWriter struct {
	http.ResponseWriter
	size int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

func (w *countingWriter) Written() bool {
	t, ok := w.ResponseWriter.(router.WriteTracker)
	return ok && t.Written()
}

func (w *countingWriter) Status() int {
	if t, ok := w.ResponseWriter.(router.StatusTracker); ok {
		return t.Status()
	}
	return 0
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Request ids a client may choose: short, of safe characters, and without
// a hex run long enough to be (part of) a userId or storageKey that a
// careless client put there. A UUID's longest run is 12.
const (
	maxRequestIDLen    = 40
	maxRequestIDHexRun = 12
)

func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			run++
		} else {
			run = 0
		}
		if run > maxRequestIDHexRun {
			return false
		}
	}
	return true
}

// newRequestID makes an id that passes saneRequestID, so that a client may
// send it back: two groups of 8 hex digits.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:]
}
