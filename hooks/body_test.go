package hooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// onlyReader hides a reader's other methods (WriterTo, Len), as a network
// body does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReadCapped(t *testing.T) {
	const maxBytes = 300_000
	for _, size := range []int{0, 1, blockSize - 1, blockSize, blockSize + 1, 3*blockSize + 7, maxBytes} {
		data := bytes.Repeat([]byte{'d'}, size)
		for _, declared := range []bool{true, false} {
			for _, large := range []bool{false, true} {
				length := int64(-1)
				if declared {
					length = int64(size)
				}
				var mem Memory
				mem.max = 1 << 30
				got, err := readCapped(onlyReader{bytes.NewReader(data)}, length, maxBytes, &mem, large)
				what := fmt.Sprintf("%d bytes (declared %v, large %v)", size, declared, large)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !bytes.Equal(got.bytes, data) || got.hash != sha256Hex(data) || got.read != int64(size) {
					t.Fatalf("%s: got %d bytes, hash ok %v, read %d", what, len(got.bytes), got.hash == sha256Hex(data), got.read)
				}
				// The budget holds the body's bytes, no more: a mapping's
				// room beyond them and the blocks are given back.
				if mem.Used() != int64(size) {
					t.Fatalf("%s: %d bytes taken from the budget", what, mem.Used())
				}
				if want := large; got.mapped != want {
					t.Fatalf("%s: mapped %v, want %v", what, got.mapped, want)
				}
				// A heap buffer holds the body and no more: no growth slack
				// lives on with the request.
				if !got.mapped && cap(got.bytes) != len(got.bytes) {
					t.Fatalf("%s: buffer of %d", what, cap(got.bytes))
				}
				if got.mapped {
					unmapBody(got.bytes)
				}
			}
		}
	}
}

func TestReadCappedRefusesMore(t *testing.T) {
	const maxBytes = 100_000
	data := bytes.Repeat([]byte{'x'}, 5*maxBytes)
	for _, large := range []bool{false, true} {
		var mem Memory
		mem.max = 1 << 30
		got, err := readCapped(onlyReader{bytes.NewReader(data)}, -1, maxBytes, &mem, large)
		if !errors.Is(err, errTooLarge) || got.read != maxBytes+1 {
			t.Fatalf("large %v, unknown length: %v after %d bytes, want errTooLarge after %d", large, err, got.read, maxBytes+1)
		}
		// A body longer than it declared is refused too.
		_, err = readCapped(onlyReader{bytes.NewReader(data[:1000])}, 999, maxBytes, &mem, large)
		if !errors.Is(err, errTooLarge) {
			t.Fatalf("large %v, body past its declared length: %v", large, err)
		}
		// One shorter than declared is a broken request, not a large one.
		_, err = readCapped(onlyReader{bytes.NewReader(data[:10])}, 20, maxBytes, &mem, large)
		if err == nil || errors.Is(err, errTooLarge) {
			t.Fatalf("large %v, short body: %v", large, err)
		}
		if mem.Used() != 0 {
			t.Fatalf("large %v: refused bodies left %d bytes taken from the budget", large, mem.Used())
		}
	}
}

// heapAllocated returns what read allocates on the collector's heap, and
// what it returned.
func heapAllocated(read func() (readBody, error)) (uint64, readBody, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := read()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, got, err
}

// A 5 MiB upload of declared length costs, once the block pool is warm, one
// allocation of its size, not the doubling a growing buffer does.
func TestReadCappedAllocatesOnce(t *testing.T) {
	const size = 5 << 20
	data := bytes.Repeat([]byte{'a'}, size)
	read := func() (readBody, error) {
		return readCapped(onlyReader{bytes.NewReader(data)}, size, size+64<<10, nil, false)
	}
	warm, _ := read()
	runtime.KeepAlive(warm)
	allocated, body, err := heapAllocated(read)
	if err != nil {
		t.Fatal(err)
	}
	if allocated > size+64<<10 {
		t.Fatalf("reading %d bytes allocated %d", size, allocated)
	}
	runtime.KeepAlive(body)
}

// A large upload is read outside the collector's heap: it allocates nothing
// of its size there, so uploads leave no garbage to pile up before a
// collection.
func TestLargeBodyLeavesTheHeap(t *testing.T) {
	const size = 5 << 20
	data := bytes.Repeat([]byte{'a'}, size)
	allocated, got, err := heapAllocated(func() (readBody, error) {
		return readCapped(onlyReader{bytes.NewReader(data)}, size, size+64<<10, nil, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unmapBody(got.bytes)
	if !got.mapped || !bytes.Equal(got.bytes, data) {
		t.Fatalf("mapped %v, body intact %v", got.mapped, bytes.Equal(got.bytes, data))
	}
	if allocated > 64<<10 {
		t.Fatalf("reading %d bytes into a mapping allocated %d on the heap", size, allocated)
	}
}

// Once the chain returns the event no longer holds the body (a large one is
// unmapped by then), and how much was read stays known for the access log,
// also for a body of unknown length.
func TestReadBodyLetsGoWhenDone(t *testing.T) {
	body := bytes.Repeat([]byte("a"), 2<<20)
	e := &core.RequestEvent{}
	e.Request, e.Response = jsonRequest(onlyReader{bytes.NewReader(body)}, -1), httptest.NewRecorder()
	seen := 0
	err := triggerReadBody(e, BodyLimits{MaxBytes: 4 << 20, LargeBytes: 1 << 20}, func(e *core.RequestEvent) error {
		seen = len(Body(e))
		return nil
	})
	if err != nil || seen != len(body) {
		t.Fatalf("err %v, the handler saw %d of %d bytes", err, seen, len(body))
	}
	if Body(e) != nil || bodyRead(e) != int64(len(body)) {
		t.Fatalf("after the chain: body held %v, read %d of %d", Body(e) != nil, bodyRead(e), len(body))
	}
}

// A large body's declared length reserves nothing: while it trickles in,
// the budget holds what arrived (to the block), as for a small one.
func TestLargeBodyMemoryFollowsTheBytes(t *testing.T) {
	const declared, sent = 5 << 20, 100_000
	pr, pw := io.Pipe()
	var mem Memory
	mem.max = 1 << 30
	done := make(chan error, 1)
	go func() {
		_, err := readCapped(onlyReader{pr}, declared, declared, &mem, true)
		done <- err
	}()
	if _, err := pw.Write(bytes.Repeat([]byte{'a'}, sent)); err != nil {
		t.Fatal(err)
	}
	// The reader has taken the bytes written; it waits for more.
	if used := mem.Used(); used < sent || used > sent+blockSize {
		t.Fatalf("%d of %d declared bytes received: %d taken from the budget", sent, declared, used)
	}
	pw.CloseWithError(errors.New("client went away"))
	if err := <-done; err == nil {
		t.Fatal("a body cut short was accepted")
	}
	if mem.Used() != 0 {
		t.Fatalf("a body cut short left %d bytes taken", mem.Used())
	}
}

// bodyRequest runs ReadBody (with limits) and a handler that records the
// body it saw, on a request whose body is r.
func bodyRequest(t *testing.T, limits BodyLimits, r *http.Request, handler func(*core.RequestEvent) error) (*httptest.ResponseRecorder, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{}
	e.Request, e.Response = r, rec
	if handler == nil {
		handler = func(*core.RequestEvent) error { return nil }
	}
	return rec, triggerReadBody(e, limits, handler)
}

// triggerReadBody runs ReadBody (with limits) and then handler on e.
func triggerReadBody(e *core.RequestEvent, limits BodyLimits, handler func(*core.RequestEvent) error) error {
	h := &hook.Hook[*core.RequestEvent]{}
	h.Bind(ReadBody(limits))
	return h.Trigger(e, handler)
}

func jsonRequest(body io.Reader, length int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/backup", body)
	r.ContentLength = length
	r.Header.Set("Content-Type", "application/json")
	return r
}

func apiErrorStatus(err error) int {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	return 0
}

func TestReadBodyHandsOverBodyAndHash(t *testing.T) {
	body := []byte(`{"userId":"u"}`)
	var seen []byte
	var hash string
	_, err := bodyRequest(t, BodyLimits{MaxBytes: 100}, jsonRequest(bytes.NewReader(body), int64(len(body))),
		func(e *core.RequestEvent) error {
			seen, hash = Body(e), e.Get(keyBodyHash).(string)
			return nil
		})
	if err != nil || !bytes.Equal(seen, body) || hash != sha256Hex(body) {
		t.Fatalf("err %v, body %q, hash %s", err, seen, hash)
	}
}

func TestReadBodyContentType(t *testing.T) {
	for _, c := range []struct{ contentType, encoding string }{
		{"", ""}, {"text/plain", ""}, {"application/x-www-form-urlencoded", ""}, {"multipart/form-data; boundary=x", ""},
		{"application/json", "gzip"}, {"application/jsonx", ""},
	} {
		r := jsonRequest(strings.NewReader("{}"), 2)
		r.Header.Set("Content-Type", c.contentType)
		if c.encoding != "" {
			r.Header.Set("Content-Encoding", c.encoding)
		}
		if _, err := bodyRequest(t, BodyLimits{MaxBytes: 100}, r, nil); apiErrorStatus(err) != http.StatusUnsupportedMediaType {
			t.Fatalf("%q %q: %v, want 415", c.contentType, c.encoding, err)
		}
	}
	r := jsonRequest(strings.NewReader("{}"), 2)
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if _, err := bodyRequest(t, BodyLimits{MaxBytes: 100}, r, nil); err != nil {
		t.Fatalf("JSON with a charset: %v", err)
	}
}

// Up to twice the cap, an oversized body is read to its end (so the client
// gets the answer); beyond, the connection is closed and the body left
// unread.
func TestReadBodyTooLarge(t *testing.T) {
	const maxBytes = 1000
	for _, c := range []struct {
		size     int
		declared bool
		close    bool
	}{
		{1001, true, false}, {2000, true, false}, {2001, true, true}, {50_000, true, true},
		{1001, false, false}, {2000, false, false}, {2001, false, true}, {50_000, false, true},
	} {
		src := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte{'x'}, c.size))}
		length := int64(c.size)
		if !c.declared {
			length = -1
		}
		rec, err := bodyRequest(t, BodyLimits{MaxBytes: maxBytes}, jsonRequest(onlyReader{src}, length),
			func(*core.RequestEvent) error { t.Fatal("an oversized body reached the handler"); return nil })
		if apiErrorStatus(err) != http.StatusRequestEntityTooLarge {
			t.Fatalf("%+v: %v, want 413", c, err)
		}
		closed := rec.Header().Get("Connection") == "close"
		if closed != c.close {
			t.Fatalf("%+v: Connection close %v", c, closed)
		}
		if !c.close && src.n != int64(c.size) {
			t.Fatalf("%+v: read %d of %d before answering", c, src.n, c.size)
		}
		// Never more than twice the cap (plus the byte that tells).
		if src.n > 2*maxBytes+1 {
			t.Fatalf("%+v: read %d bytes", c, src.n)
		}
	}
}

// Large bodies are read a bounded number at a time, each holding its slot
// until its handler is done; a refused one gives its slot back before it
// drains.
func TestReadBodyLargeSlots(t *testing.T) {
	limits := BodyLimits{MaxBytes: 10_000, Large: NewSlots(1), LargeBytes: 100}
	large := func() *http.Request { return jsonRequest(bytes.NewReader(bytes.Repeat([]byte{'x'}, 500)), 500) }

	inHandler, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error)
	go func() {
		_, err := bodyRequest(t, limits, large(), func(*core.RequestEvent) error {
			close(inHandler)
			<-release
			return nil
		})
		firstDone <- err
	}()
	<-inHandler

	// A small body does not wait.
	if _, err := bodyRequest(t, limits, jsonRequest(strings.NewReader("{}"), 2), nil); err != nil {
		t.Fatal(err)
	}
	// A large one waits until its client gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := bodyRequest(t, limits, large().WithContext(ctx), func(*core.RequestEvent) error {
		t.Fatal("a second large body was read while the slot was taken")
		return nil
	})
	if apiErrorStatus(err) != http.StatusServiceUnavailable {
		t.Fatalf("waiting large body: %v, want 503", err)
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if len(limits.Large.held) != 0 {
		t.Fatal("the slot was not given back")
	}

	// A refused body of unknown length leaves the slot free.
	_, err = bodyRequest(t, limits, jsonRequest(onlyReader{bytes.NewReader(make([]byte, 50_000))}, -1), nil)
	if apiErrorStatus(err) != http.StatusRequestEntityTooLarge || len(limits.Large.held) != 0 {
		t.Fatalf("refused body: %v, slots taken %d", err, len(limits.Large.held))
	}
}

// A body's one reader takes it from the event: once decoded, nothing in the
// chain keeps it reachable, so a large upload is not held twice (body and
// decoded data) while its save waits for the database.
func TestTakeBodyLetsGo(t *testing.T) {
	body := bytes.Repeat([]byte("a"), 1<<20)
	_, err := bodyRequest(t, BodyLimits{MaxBytes: 2 << 20}, jsonRequest(bytes.NewReader(body), int64(len(body))),
		func(e *core.RequestEvent) error {
			collected := takeAndWatch(t, e, body)
			for range 20 {
				runtime.GC()
				select {
				case <-collected:
					return nil
				case <-time.After(20 * time.Millisecond):
				}
			}
			t.Error("the body stayed reachable after its reader let go of it")
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// takeAndWatch takes the body, checks it, and returns a channel closed once
// the garbage collector has freed it.
func takeAndWatch(t *testing.T, e *core.RequestEvent, want []byte) <-chan struct{} {
	t.Helper()
	b := TakeBody(e)
	if !bytes.Equal(b, want) {
		t.Fatalf("took %d bytes, want the body's %d", len(b), len(want))
	}
	if Body(e) != nil {
		t.Fatal("the event still holds the body")
	}
	collected := make(chan struct{})
	runtime.AddCleanup(&b[0], func(ch chan struct{}) { close(ch) }, collected)
	return collected
}
