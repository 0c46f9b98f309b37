package hooks

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/dailyreps/backup/limiter"
)

var apiURL = &url.URL{Path: "/api/backup"}

// limitChain is the address resolution and the per-address bucket as the
// route table binds them, in front of a handler that counts what it lets
// through.
type limitChain struct {
	chain   *hook.Hook[*core.RequestEvent]
	reached int
}

func newLimitChain(trustedHeader string, buckets *limiter.Keyed) *limitChain {
	c := &limitChain{chain: &hook.Hook[*core.RequestEvent]{}}
	c.chain.Bind(ClientIPResolver(trustedHeader))
	c.chain.Bind(IPLimit(buckets))
	return c
}

// send runs one request from the given address (through the trusted header)
// and returns the response.
func (c *limitChain) send(t testing.TB, header, ip string) *httptest.ResponseRecorder {
	t.Helper()
	// Built by hand: httptest.NewRequest parses a whole request line.
	r := &http.Request{Method: http.MethodGet, URL: apiURL, Header: http.Header{}, RemoteAddr: "192.0.2.200:40000"}
	if ip != "" {
		r.Header.Set(header, ip)
	}
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{}
	e.Request, e.Response = r, rec
	err := c.chain.Trigger(e, func(*core.RequestEvent) error { c.reached++; return nil })
	if err != nil {
		var apiErr *router.ApiError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests {
			t.Fatalf("refused with %v, want 429", err)
		}
		rec.Code = apiErr.Status
	}
	return rec
}

// A flood from 150,000 distinct addresses, through the middleware, leaves
// the buckets within their bound, and the address that was being refused
// before the flood is still refused after it.
func TestIPLimitFloodOfAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 150,000 requests through the middleware")
	}
	now := time.Unix(1_700_000_000, 0)
	const bound = 100_000
	buckets := limiter.New(5, 2*time.Second, bound, func() time.Time { return now })
	c := newLimitChain("Fly-Client-IP", buckets)

	const attacker = "198.51.100.66"
	for range 5 {
		c.send(t, "Fly-Client-IP", attacker)
	}
	if rec := c.send(t, "Fly-Client-IP", attacker); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("6th request: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	for i := range 150_000 {
		// Half IPv4, half distinct IPv6 /64s.
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if i%2 == 1 {
			ip = fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
		}
		if rec := c.send(t, "Fly-Client-IP", ip); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("the first request from %s was refused", ip)
		}
		if i%1000 == 0 {
			if n := buckets.Len(); n > bound {
				t.Fatalf("%d buckets after %d addresses, bound %d", n, i+1, bound)
			}
			now = now.Add(4 * time.Millisecond) // a second in all: less than one token

		}
	}
	if n := buckets.Len(); n > bound {
		t.Fatalf("%d buckets after the flood, bound %d", n, bound)
	}
	if rec := c.send(t, "Fly-Client-IP", attacker); rec.Code != http.StatusTooManyRequests {
		t.Fatal("the flood gave the refused address a fresh bucket")
	}
}

func TestIPLimitRetryAfterRoundsUp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	buckets := limiter.New(1, 3*time.Second, 10, func() time.Time { return now })
	c := newLimitChain("", buckets)
	c.send(t, "", "")
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{{0, "3"}, {1500 * time.Millisecond, "2"}, {1400 * time.Millisecond, "1"}} {
		now = now.Add(step.advance)
		rec := c.send(t, "", "")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != step.want {
			t.Fatalf("after %v: %d, Retry-After %q, want %s", step.advance, rec.Code, rec.Header().Get("Retry-After"), step.want)
		}
	}
	now = now.Add(100 * time.Millisecond)
	if rec := c.send(t, "", ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("refused once the token was back")
	}
	if c.reached != 2 {
		t.Fatalf("%d requests reached the handler, want 2", c.reached)
	}
}

// Registrations have a bucket of their own: a register limit of nil (off)
// lets everything through.
func TestRouteLimitOff(t *testing.T) {
	h := &hook.Hook[*core.RequestEvent]{}
	h.Bind(ClientIPResolver(""))
	h.Bind(RouteLimit("test", 0, nil, "no"))
	for range 100 {
		e := &core.RequestEvent{}
		e.Request, e.Response = httptest.NewRequest(http.MethodPost, "/api/register", nil), httptest.NewRecorder()
		if err := h.Trigger(e, func(*core.RequestEvent) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}
