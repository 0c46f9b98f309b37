package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"

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

// ReadBody reads a JSON body once, under the route's cap, hashing it as it
// streams (for the signature check). A declared length is read into one
// buffer of exactly that size. It bypasses PocketBase's re-readable body
// wrapper, which would keep a second copy of every upload. Nothing past the
// cap is ever buffered: an oversized body is discarded as it arrives, up to
// twice the cap so that the client can read a clean 413 (a browser's fetch
// otherwise sees a bare network error), and past that the connection is
// closed.
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
				return refuseTooLarge(e, body, 0, n, limits.MaxBytes)
			}
			release, err := limits.acquire(e, n)
			if err != nil {
				return err
			}
			defer release()
			buf, hash, read, err := readCapped(body, n, limits.MaxBytes)
			if errors.Is(err, errTooLarge) {
				release() // draining a refused body holds no memory
				return refuseTooLarge(e, body, read, -1, limits.MaxBytes)
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

// acquire waits for a slot when a body of contentLength (-1: unknown) is a
// large one. The slot stands for the body's buffer, which lives until the
// handler is done with it; release gives it back, once.
func (l BodyLimits) acquire(e *core.RequestEvent, contentLength int64) (release func(), err error) {
	if l.Large == nil || contentLength >= 0 && contentLength <= l.LargeBytes {
		return func() {}, nil
	}
	select {
	case l.Large <- struct{}{}:
		return sync.OnceFunc(func() { <-l.Large }), nil
	case <-e.Request.Context().Done():
		return nil, Fail(http.StatusServiceUnavailable, "The server is busy; try again.")
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

// readCapped reads the whole body, at most maxBytes of it, and its hash; read
// is how many bytes it took from r. A declared length gets a buffer of
// exactly that size. An unknown one is gathered in pooled blocks and copied
// once into a buffer of its final size, so that a body refused for its size
// leaves no garbage behind and no buffer grows past what it holds.
func readCapped(r io.Reader, contentLength, maxBytes int64) (body []byte, hash string, read int64, err error) {
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(io.LimitReader(r, maxBytes+1), h)}
	if contentLength >= 0 {
		body = make([]byte, contentLength)
		_, err = io.ReadFull(counted, body)
		if err == nil {
			// Nothing may follow the declared length.
			var probe [1]byte
			if n, _ := counted.Read(probe[:]); n > 0 {
				err = errTooLarge
			}
		}
	} else {
		body, err = readBlocks(counted, maxBytes)
	}
	if err == nil && counted.n > maxBytes {
		err = errTooLarge
	}
	if err != nil {
		return nil, "", counted.n, err
	}
	return body, hex.EncodeToString(h.Sum(nil)), counted.n, nil
}

const blockSize = 64 << 10

var blocks = sync.Pool{New: func() any { return new([blockSize]byte) }}

// readBlocks reads r to its end in pooled blocks and joins them, unless it
// holds more than maxBytes.
func readBlocks(r io.Reader, maxBytes int64) ([]byte, error) {
	var held []*[blockSize]byte
	defer func() {
		for _, b := range held {
			blocks.Put(b)
		}
	}()
	total, last := 0, blockSize // last: bytes used in the newest block
	for {
		if last == blockSize {
			held = append(held, blocks.Get().(*[blockSize]byte))
			last = 0
		}
		n, err := r.Read(held[len(held)-1][last:])
		last += n
		total += n
		if int64(total) > maxBytes {
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for i, b := range held {
		if i == len(held)-1 {
			return append(out, b[:last]...), nil
		}
		out = append(out, b[:]...)
	}
	return out, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// refuseTooLarge answers 413 for a body of which read bytes were taken and
// contentLength declared (-1: unknown). It drains what remains up to twice the
// cap, since the client is still sending and reads the answer only once done;
// past that it closes the connection rather than read on.
func refuseTooLarge(e *core.RequestEvent, body io.Reader, read, contentLength, maxBytes int64) error {
	drain := 2*maxBytes - read
	if contentLength <= 2*maxBytes && drain > 0 {
		if n, _ := io.CopyN(io.Discard, body, drain+1); n <= drain {
			return Fail(http.StatusRequestEntityTooLarge, tooLargeMsg)
		}
	}
	e.Response.Header().Set("Connection", "close")
	return Fail(http.StatusRequestEntityTooLarge, tooLargeMsg)
}

const tooLargeMsg = "The backup is too large."
