package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

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
	// Large's number at a time per client address; the address's others
	// wait, in the kernel's socket buffers, not in memory. One address's
	// stalled uploads never delay another's.
	Large      *Slots
	LargeBytes int64
	// Memory is the server-wide budget of body bytes held at once; nil: none.
	Memory *Memory
	// A body must arrive at MinRate bytes per second or faster once Grace
	// has passed, else it is cut off (408); ReadTimeout still bounds it.
	MinRate     int64
	Grace       time.Duration
	ReadTimeout time.Duration
}

// ReadBody reads a JSON body once, under the route's cap, hashing it as it
// streams (for the signature check). Memory follows the bytes received: the
// body is gathered in pooled blocks as it arrives, each taken from the
// server-wide budget first, and joined once complete; a declared length
// reserves nothing before its bytes come. It bypasses PocketBase's
// re-readable body wrapper, which would keep a second copy of every upload.
// Nothing past the cap is ever buffered: an oversized body is discarded as
// it arrives, up to twice the cap so that the client can read a clean 413 (a
// browser's fetch otherwise sees a bare network error), and past that the
// connection is closed.
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
			paced := limits.pace(e, body)
			got, err := readCapped(paced, n, limits.MaxBytes, limits.Memory, limits.mapped(n))
			paced.done()
			if errors.Is(err, errTooLarge) {
				release() // draining a refused body holds no memory
				return refuseTooLarge(e, body, got.read, -1, limits.MaxBytes)
			}
			if err != nil {
				e.Response.Header().Set("Connection", "close")
				switch {
				case errors.Is(err, errNoMemory):
					e.Response.Header().Set("Retry-After", "5")
					return Fail(http.StatusServiceUnavailable, "The server is busy; try again.")
				case errors.Is(err, os.ErrDeadlineExceeded):
					return Fail(http.StatusRequestTimeout, "The request body arrived too slowly.")
				}
				return Fail(http.StatusBadRequest, "The request body could not be read.")
			}
			defer limits.Memory.give(int64(len(got.bytes)))
			if got.mapped {
				// Only a mapping is held here: a heap body is left for the
				// collector once decoded (TakeBody).
				defer unmapBody(got.bytes)
			}
			e.Set(keyBody, got.bytes)
			e.Set(keyBodyRead, got.read)
			e.Set(keyBodyHash, got.hash)
			defer e.Set(keyBody, nil) // nothing may reach the bytes once released
			return e.Next()
		},
	}
}

// mapped reports whether a body of contentLength (-1: unknown) is read into
// a mapping of its own (see readCapped): the large ones.
func (l BodyLimits) mapped(contentLength int64) bool {
	return l.LargeBytes > 0 && (contentLength < 0 || contentLength > l.LargeBytes)
}

// acquire waits for one of the client address's slots when a body of
// contentLength (-1: unknown) is a large one. The slot lives until the
// handler is done with the body; release gives it back, once.
func (l BodyLimits) acquire(e *core.RequestEvent, contentLength int64) (release func(), err error) {
	if l.Large == nil || contentLength >= 0 && contentLength <= l.LargeBytes {
		return func() {}, nil
	}
	release, ok := l.Large.acquire(e.Request.Context(), ClientIP(e))
	if !ok {
		return nil, Fail(http.StatusServiceUnavailable, "The server is busy; try again.")
	}
	return sync.OnceFunc(release), nil
}

// Slots bound how many large uploads each client address has in flight.
type Slots struct {
	per  int
	mu   sync.Mutex
	held map[string]*addrSlots
}

type addrSlots struct {
	free chan struct{}
	refs int
}

// NewSlots allows per large uploads at a time per address; per <= 0: nil (no bound).
func NewSlots(per int) *Slots {
	if per <= 0 {
		return nil
	}
	return &Slots{per: per, held: map[string]*addrSlots{}}
}

func (s *Slots) acquire(ctx context.Context, addr string) (release func(), ok bool) {
	s.mu.Lock()
	a := s.held[addr]
	if a == nil {
		a = &addrSlots{free: make(chan struct{}, s.per)}
		s.held[addr] = a
	}
	a.refs++
	s.mu.Unlock()
	unref := func() {
		s.mu.Lock()
		if a.refs--; a.refs == 0 {
			delete(s.held, addr)
		}
		s.mu.Unlock()
	}
	select {
	case a.free <- struct{}{}:
		return func() { <-a.free; unref() }, true
	case <-ctx.Done():
		unref()
		return nil, false
	}
}

// Memory is a server-wide budget of request-body bytes held at once. Past it
// a body is refused with 503 and Retry-After rather than let memory grow.
type Memory struct {
	max  int64
	used atomic.Int64
}

// NewMemory budgets max bytes; max <= 0: nil (no bound).
func NewMemory(max int64) *Memory {
	if max <= 0 {
		return nil
	}
	return &Memory{max: max}
}

func (m *Memory) take(n int64) bool {
	if m == nil {
		return true
	}
	if m.used.Add(n) > m.max {
		m.used.Add(-n)
		return false
	}
	return true
}

func (m *Memory) give(n int64) {
	if m != nil {
		m.used.Add(-n)
	}
}

// Used reports the bytes held now (tests, metrics).
func (m *Memory) Used() int64 {
	if m == nil {
		return 0
	}
	return m.used.Load()
}

// pacedReader cuts a body off once it falls behind MinRate after Grace, by
// moving the connection's read deadline ahead of each read to the moment the
// bytes received so far would fall behind; a stalled client thus holds its
// connection and its slot for Grace plus what it sent divided by the rate,
// not for the whole read timeout.
type pacedReader struct {
	r          io.Reader
	rc         *http.ResponseController
	start, end time.Time // end: the read timeout's deadline (zero: none)
	grace      time.Duration
	rate, n    int64
	off        bool
}

func (l BodyLimits) pace(e *core.RequestEvent, body io.Reader) *pacedReader {
	p := &pacedReader{r: body, rc: http.NewResponseController(e.Response), start: time.Now(), grace: l.Grace, rate: l.MinRate}
	if l.ReadTimeout > 0 {
		p.end = p.start.Add(l.ReadTimeout)
	}
	p.off = l.MinRate <= 0
	return p
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if !p.off {
		due := p.start.Add(p.grace + time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second)))
		if soon := time.Now().Add(time.Second); due.Before(soon) {
			due = soon // never so close that a read completing the body trips it
		}
		if !p.end.IsZero() && due.After(p.end) {
			due = p.end
		}
		if err := p.rc.SetReadDeadline(due); err != nil {
			p.off = true // not a network connection (tests)
		}
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// done clears the deadline, as net/http does itself once a body is complete:
// it then reads on in the background (to notice a client that goes away),
// and a deadline of ours passing during the handler would cancel the
// request's context in the middle of its work. After an error the
// connection is closed anyway.
func (p *pacedReader) done() {
	if !p.off {
		_ = p.rc.SetReadDeadline(time.Time{})
	}
}

var (
	errTooLarge = errors.New("body too large")
	errNoMemory = errors.New("body memory budget spent")
)

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

// A readBody is a request body read whole.
type readBody struct {
	bytes []byte
	hash  string // its SHA-256, hex
	read  int64  // bytes taken from the connection (past a cap: more than bytes holds)
	// mapped: bytes is a mapping of its own, given back with unmapBody.
	// Nothing may use the bytes afterwards: ReadBody unmaps them when the
	// handler chain returns, and every consumer copies what it keeps (the
	// database drivers copy what they are given; see routes' inBody).
	mapped bool
}

// readCapped reads the whole body, at most maxBytes of it, and its hash. Its
// memory follows the bytes received, taken from mem as they come (a declared
// length reserves nothing ahead). A small body is gathered in pooled blocks
// and copied once into a buffer of its final size. A large one (large: over
// BodyLimits.LargeBytes, or of unknown length) is read straight into an
// anonymous mapping with room for the most it may hold: the kernel backs its
// pages only as they are written, and unmapping returns them at once, so an
// upload of megabytes neither holds its bytes twice while it is joined nor
// grows the collector's heap, which would let each upload's garbage
// accumulate to twice the live heap before a collection (BENCHMARKS.md,
// "Uploads' memory"). On success len(body.bytes) bytes stay taken from mem
// for the caller to give back (and a mapping to unmap); on error none are
// held.
func readCapped(r io.Reader, contentLength, maxBytes int64, mem *Memory, large bool) (body readBody, err error) {
	h := sha256.New()
	limit := maxBytes + 1
	if contentLength >= 0 {
		limit = min(limit, contentLength+1) // one byte past the declared length tells
	}
	counted := &countingReader{r: io.TeeReader(io.LimitReader(r, limit), h)}
	var mapping []byte
	if large {
		mapping = mapBody(int(limit))
	}
	if mapping != nil {
		body.bytes, err = readMapped(counted, mapping, maxBytes, mem)
		body.mapped = true
	} else {
		body.bytes, err = readBlocks(counted, maxBytes, mem)
	}
	body.read = counted.n
	switch {
	case err != nil:
	case counted.n > maxBytes || contentLength >= 0 && counted.n > contentLength:
		err = errTooLarge
	case contentLength >= 0 && counted.n < contentLength:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if body.bytes != nil {
			mem.give(int64(len(body.bytes)))
		}
		if mapping != nil {
			unmapBody(mapping)
		}
		return readBody{read: counted.n}, err
	}
	body.hash = hex.EncodeToString(h.Sum(nil))
	return body, nil
}

const blockSize = 16 << 10

var blocks = sync.Pool{New: func() any { return new([blockSize]byte) }}

// readBlocks reads r to its end in pooled blocks, each taken from mem first,
// and joins them, unless it holds more than maxBytes.
func readBlocks(r io.Reader, maxBytes int64, mem *Memory) ([]byte, error) {
	var held []*[blockSize]byte
	defer func() {
		for _, b := range held {
			blocks.Put(b)
		}
		mem.give(int64(len(held)) * blockSize)
	}()
	total, last := 0, blockSize // last: bytes used in the newest block
	for {
		if last == blockSize {
			if !mem.take(blockSize) {
				return nil, errNoMemory
			}
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
	if !mem.take(int64(total)) {
		return nil, errNoMemory
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

// readMapped reads r to its end into mapping, taking each block's worth of
// room from mem before it is filled, unless it holds more than maxBytes. The
// body it returns is mapping's first bytes; on success len(body) bytes stay
// taken from mem, on error none.
func readMapped(r io.Reader, mapping []byte, maxBytes int64, mem *Memory) (body []byte, err error) {
	total, taken := 0, 0
	defer func() { mem.give(int64(taken - len(body))) }()
	for {
		if total == taken {
			if taken == len(mapping) {
				return nil, errTooLarge // only past maxBytes or the declared length: limit's extra byte
			}
			n := min(blockSize, len(mapping)-taken)
			if !mem.take(int64(n)) {
				return nil, errNoMemory
			}
			taken += n
		}
		n, err := r.Read(mapping[total:taken])
		total += n
		if int64(total) > maxBytes {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return mapping[:total:len(mapping)], nil
		}
		if err != nil {
			return nil, err
		}
	}
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
