package hooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// ErrorShape writes every error returned inside the API group, including
// those of PocketBase's own middlewares (panic recovery), as
// {"error": "..."}. Faults become a fixed sentence: no SQL, path, stack or
// input reaches a client.
func ErrorShape(logf func(msg string, args ...any)) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdErrorShape,
		Priority: PriorityErrorShape,
		Func: func(e *core.RequestEvent) error {
			err := e.Next()
			if err == nil {
				return nil
			}
			if w, ok := e.Response.(router.WriteTracker); ok && w.Written() {
				return nil
			}
			status, msg := http.StatusInternalServerError, "Internal server error."
			var apiErr *router.ApiError
			if errors.As(err, &apiErr) && apiErr.Status != http.StatusInternalServerError {
				status, msg = apiErr.Status, apiErr.Message
			} else if logf != nil {
				// Store and driver errors carry peppered ids at most, never
				// what the client sent; a recovered panic carries its value
				// and stack in the error's raw data, which the message
				// leaves out. Long hex runs (an id in a panic's value) are
				// masked all the same.
				msg := err.Error()
				if errors.As(err, &apiErr) {
					if raw, ok := apiErr.RawData().(error); ok {
						msg = raw.Error()
					}
				}
				logf("request failed", "requestId", RequestID(e), "error", maskHexRuns(msg))
			}
			return WriteError(e, status, msg)
		},
	}
}

// WriteError answers {"error": msg} with status.
func WriteError(e *core.RequestEvent, status int, msg string) error {
	return WriteJSON(e, status, map[string]string{"error": msg})
}

// WriteJSON answers v as JSON. It uses encoding/json rather than e.JSON,
// which would apply PocketBase's ?fields= filter to API responses.
func WriteJSON(e *core.RequestEvent, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Content-Type", "application/json")
	e.Response.WriteHeader(status)
	if e.Request.Method == http.MethodHead {
		return nil
	}
	_, err = e.Response.Write(b)
	return err
}

// hexRun is a run of hex digits as long as a userId or storageKey's half:
// stack addresses (16 digits at most) stay readable.
var hexRun = regexp.MustCompile(`[0-9a-fA-F]{24,}`)

func maskHexRuns(s string) string { return hexRun.ReplaceAllString(s, "[hex]") }
