package hooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// emptyHash is the body hash of a request without a body (a GET).
var emptyHash = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// BodyLimits bound what ReadBody accepts and holds.
type BodyLimits struct {
	MaxBytes int64 // the route's body cap
	// Large uploads (over LargeBytes, or of unknown length) run at most
	// cap(Large) at a time; the others wait in the kernel's socket buffers,
	// not in memory.
	Large      chan struct{}
	LargeBytes int64
}

// ReadBody reads a JSON body once, under the route's cap, into a buffer sized
// from Content-Length, hashing it as it streams (for the signature check).
// It bypasses PocketBase's re-readable body wrapper, which would keep a
// second copy of every upload. An oversized body is discarded as it arrives,
// never buffered; up to twice the cap it is drained so the client can read a
// clean 413 (a browser's fetch otherwise sees a bare network error), past
// that the connection is closed.
func ReadBody(limits BodyLimits) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdReadBody,
		Priority: PriorityReadBody,
		Func: func(e *core.RequestEvent) error {
			if err := checkContentType(e.Request); err != nil {
				return err
			}
			body := unwrapBody(e.Request.Body)
			n := e.Request.ContentLength
			if n > limits.MaxBytes {
				return refuseTooLarge(e, body, n, limits.MaxBytes)
			}
			if limits.Large != nil && (n < 0 || n > limits.LargeBytes) {
				select {
				case limits.Large <- struct{}{}:
					defer func() { <-limits.Large }()
				case <-e.Request.Context().Done():
					return Fail(http.StatusServiceUnavailable, "The server is busy; try again.")
				}
			}
			buf, hash, err := readCapped(body, n, limits.MaxBytes)
			if errors.Is(err, errTooLarge) {
				return refuseTooLarge(e, body, -1, limits.MaxBytes)
			}
			if err != nil {
				return Fail(http.StatusBadRequest, "The request body could not be read.")
			}
			e.Set(keyBody, buf)
			e.Set(keyBodyHash, hash)
			return e.Next()
		},
	}
}

var errTooLarge = errors.New("body too large")

func checkContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return Fail(http.StatusUnsupportedMediaType, "The body must be JSON, sent as Content-Type: application/json.")
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return Fail(http.StatusUnsupportedMediaType, "Compressed request bodies are not accepted.")
	}
	return nil
}

// unwrapBody returns the connection's body under PocketBase's re-readable
// wrapper; the wrapper still closes it when the request ends.
func unwrapBody(b io.ReadCloser) io.Reader {
	if rr, ok := b.(*router.RereadableReadCloser); ok {
		return rr.ReadCloser
	}
	return b
}

func readCapped(r io.Reader, contentLength, maxBytes int64) ([]byte, string, error) {
	size := contentLength
	if size < 0 || size > maxBytes {
		size = min(maxBytes, 64<<10) // unknown length: grow as it comes
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	h := sha256.New()
	n, err := buf.ReadFrom(io.TeeReader(io.LimitReader(r, maxBytes+1), h))
	if err != nil {
		return nil, "", err
	}
	if n > maxBytes {
		return nil, "", errTooLarge
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

func refuseTooLarge(e *core.RequestEvent, body io.Reader, contentLength, maxBytes int64) error {
	drain := 2 * maxBytes
	if contentLength < 0 || contentLength <= drain {
		// Discard what remains up to twice the cap, then answer: the
		// client is still sending and only reads the answer once done.
		if n, _ := io.CopyN(io.Discard, body, drain); n < drain {
			return Fail(http.StatusRequestEntityTooLarge, tooLargeMsg)
		}
	}
	e.Response.Header().Set("Connection", "close")
	return Fail(http.StatusRequestEntityTooLarge, tooLargeMsg)
}

const tooLargeMsg = "The backup is too large."
