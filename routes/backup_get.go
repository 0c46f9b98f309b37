package routes

import (
	"io"
	"net/http"
	"strconv"
	"unsafe"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/store"
)

// backupGet handles GET /api/backup: the newest version, or ?version=N.
func (h *handlers) backupGet(e *core.RequestEvent) error {
	id, q, err := h.readIDs(e, "version")
	if err != nil {
		return err
	}
	v, err := version(q.Get("version"))
	if err != nil {
		return err
	}
	b, err := h.Store.GetBackup(e.Request.Context(), id.user, id.key, v)
	if err != nil {
		return h.lookupFailed(e, id, err)
	}
	e.Response.Header().Set("ETag", etag(b.Version))
	if inm, ok := etagVersion(e.Request.Header.Get("If-None-Match")); ok && inm == b.Version {
		return e.NoContent(http.StatusNotModified)
	}
	h.Events.Record(id.user, id.key, store.EventRestored, h.Now())
	return writeBackup(e, b)
}

// writeBackup streams {"data", "updatedAt", "version"} straight from the
// stored string: a restore can be megabytes, and building the response in a
// buffer (or through encoding/json) would copy it once or twice more.
func writeBackup(e *core.RequestEvent, b store.Backup) error {
	head := `{"data":"`
	tail := `","updatedAt":"` + timestamp(b.UpdatedAt) + `","version":` + strconv.FormatInt(b.Version, 10) + `}`
	h := e.Response.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(head)+escapedLen(b.Data)+len(tail)))
	e.Response.WriteHeader(http.StatusOK)
	w := &stickyWriter{w: e.Response}
	w.write(head)
	writeEscaped(w, b.Data)
	w.write(tail)
	return w.err
}

// Stored data is valid UTF-8 (it arrived in a JSON string), so only quotes,
// backslashes and control characters need escaping.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 {
			n += 5 // \u00XX
		} else if c == '"' || c == '\\' {
			n++
		}
	}
	return n
}

func writeEscaped(w *stickyWriter, s string) {
	const hexDigits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.write(s[start:i])
		if c < 0x20 {
			w.write(`\u00` + string(hexDigits[c>>4]) + string(hexDigits[c&0xf]))
		} else {
			w.write(`\` + string(c))
		}
		start = i + 1
	}
	w.write(s[start:])
}

// stickyWriter writes strings without converting them to fresh byte slices
// and keeps the first error.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) write(str string) {
	if s.err != nil || str == "" {
		return
	}
	// The writer only reads the bytes (net/http copies them into its
	// buffer), so viewing the string's memory is safe and saves a copy.
	_, s.err = s.w.Write(unsafe.Slice(unsafe.StringData(str), len(str)))
}
