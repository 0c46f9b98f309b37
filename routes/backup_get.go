package routes

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unsafe"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// backupGet handles GET /api/backup: the newest version, or ?version=N.
func (h *handlers) backupGet(e *core.RequestEvent) error {
	id, q, err := h.readIDs(e, "version")
	if err != nil {
		return err
	}
	v, err := version(q)
	if err != nil {
		return err
	}
	b, err := h.Store.GetBackup(e.Request.Context(), id.user, id.key, v)
	if v > 0 && errors.Is(err, store.ErrNotFound) && h.backupExists(e, id) {
		// The credentials are right and the version is merely gone (pruned,
		// or never made): no failed attempt, and telling so reveals nothing
		// to whoever holds them.
		return hooks.Fail(http.StatusNotFound, "This backup has no such version: only the newest versions are kept.")
	}
	if err != nil {
		return h.lookupFailed(e, id, err)
	}
	e.Response.Header().Set("ETag", etag(b.Version))
	if notModified(e.Request.Header.Get("If-None-Match"), b.Version) {
		return e.NoContent(http.StatusNotModified)
	}
	h.Events.Record(id.user, id.key, store.EventRestored, h.Now())
	return writeBackup(e, b)
}

// backupExists reports whether id's user and key prove a backup, of any version.
func (h *handlers) backupExists(e *core.RequestEvent, id ids) bool {
	_, err := h.Store.Versions(e.Request.Context(), id.user, id.key)
	return err == nil
}

// notModified reports whether an If-None-Match value names version: a
// comma-separated list of ETags, compared weakly as RFC 9110 asks, or "*".
// Anything else is ignored, so a malformed value costs a full response,
// never a wrong 304.
func notModified(ifNoneMatch string, version int64) bool {
	if ifNoneMatch == "" {
		return false
	}
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		if strings.TrimSpace(tag) == "*" {
			return true
		}
		if v, ok := etagVersion(tag); ok && v == version {
			return true
		}
	}
	return false
}

// writeBackup streams {"data", "updatedAt", "version"} straight from the
// stored string: a restore can be megabytes, and building the response in a
// buffer (or through encoding/json) would copy it once or twice more.
func writeBackup(e *core.RequestEvent, b store.Backup) error { return writeBackupWith(e, b, "") }

// writeBackupWith is writeBackup with extra members (JSON text, each led by
// a comma) after the others.
func writeBackupWith(e *core.RequestEvent, b store.Backup, extra string) error {
	head := `{"data":"`
	tail := `","updatedAt":"` + timestamp(b.UpdatedAt) + `","version":` + strconv.FormatInt(b.Version, 10) + extra + `}`
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
	for i := nextEscape(s, 0); i < len(s); i = nextEscape(s, i+1) {
		if s[i] < 0x20 {
			n += 5 // \u00XX
		} else {
			n++
		}
	}
	return n
}

func writeEscaped(w *stickyWriter, s string) {
	const hexDigits = "0123456789abcdef"
	start := 0
	for i := nextEscape(s, 0); i < len(s); i = nextEscape(s, i+1) {
		c := s[i]
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
