package routes_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// ipLimited is a server with the per-address bucket at its defaults (5, one
// more every 2 s) and the other limits off.
func ipLimited(t *testing.T, edit ...func(*config.Config)) *servertest.Server {
	t.Helper()
	return newServer(t, append([]func(*config.Config){func(c *config.Config) {
		d := config.Default()
		c.IPBurst, c.IPRefill = d.IPBurst, d.IPRefill
	}}, edit...)...)
}

// cheap is a request that the bucket counts but that does no database work:
// its query is refused as invalid.
func cheap() servertest.Request {
	return servertest.Request{Method: "GET", Path: "/api/backup?userId=x"}
}

func TestIPBucket(t *testing.T) {
	s := ipLimited(t, behindProxy)
	defer s.Unchanged(s.Snapshot())
	a, b := "203.0.113.7", "198.51.100.20"
	for range 5 {
		expectStatus(t, s.Do(from(a, cheap())), http.StatusBadRequest)
	}
	expectTooMany(t, s.Do(from(a, cheap())), 2)
	// Another address has its own bucket.
	expectStatus(t, s.Do(from(b, cheap())), http.StatusBadRequest)

	s.Clock.Advance(time.Second)
	expectTooMany(t, s.Do(from(a, cheap())), 1)
	s.Clock.Advance(time.Second)
	expectStatus(t, s.Do(from(a, cheap())), http.StatusBadRequest)
	expectTooMany(t, s.Do(from(a, cheap())), 2)

	// A long pause refills the bucket to its burst, not beyond.
	s.Clock.Advance(time.Hour)
	for range 5 {
		expectStatus(t, s.Do(from(a, cheap())), http.StatusBadRequest)
	}
	expectTooMany(t, s.Do(from(a, cheap())), 2)
}

// Every limited route shares the address's bucket, and an empty bucket is
// refused before any database work: a save is refused without a trace.
func TestIPBucketCoversEveryRoute(t *testing.T) {
	s := ipLimited(t, behindProxy)
	u, k := id("bucketed"), id("bucketed-key")
	const ip = "192.0.2.1"
	expectStatus(t, s.Do(from(ip, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)
	expectStatus(t, s.Do(from(ip, saveReq(u, k, envelope(32, 'a')))), http.StatusOK)
	expectStatus(t, s.Do(from(ip, servertest.Request{Method: "GET", Path: getPath(u, k)})), http.StatusOK)
	expectStatus(t, s.Do(from(ip, servertest.Request{Method: "GET", Path: "/api/usage?userId=" + u + "&storageKey=" + k})), http.StatusOK)
	expectStatus(t, s.Do(from(ip, servertest.Request{Method: "GET", Path: "/api/backup/versions?userId=" + u + "&storageKey=" + k})), http.StatusOK)

	before := s.Snapshot()
	for _, r := range []servertest.Request{
		saveReq(u, k, envelope(32, 'b')),
		{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": id("another")}},
		deleteReq(u, k),
		{Method: "GET", Path: getPath(u, k)},
		{Method: "GET", Path: "/api/backup/activity?userId=" + u + "&storageKey=" + k},
	} {
		expectTooMany(t, s.Do(from(ip, r)), 2)
		s.Unchanged(before)
	}
	// The public routes are not limited.
	for range 10 {
		expectStatus(t, s.Do(from(ip, servertest.Request{Method: "GET", Path: "/api/info"})), http.StatusOK)
		expectStatus(t, s.Do(from(ip, servertest.Request{Method: "GET", Path: "/health"})), http.StatusOK)
	}
}

// Without a trusted proxy header, X-Forwarded-For and the like are the
// client's own words and do not pick the bucket.
func TestForwardedForIgnoredWithoutTrustedProxy(t *testing.T) {
	s := ipLimited(t)
	defer s.Unchanged(s.Snapshot())
	for range 5 {
		expectStatus(t, s.Do(cheap()), http.StatusBadRequest)
	}
	for i, name := range []string{"X-Forwarded-For", "X-Real-IP", "Fly-Client-IP", "CF-Connecting-IP", "True-Client-IP", "Forwarded"} {
		value := fmt.Sprintf("10.9.8.%d", i)
		if name == "Forwarded" {
			value = "for=" + value
		}
		expectTooMany(t, s.Do(withHeader(cheap(), name, value)), 2)
	}
}

// With a trusted header, only that header names the client.
func TestOnlyTheTrustedHeaderCounts(t *testing.T) {
	s := ipLimited(t, behindProxy)
	defer s.Unchanged(s.Snapshot())
	const ip = "203.0.113.50"
	for range 5 {
		expectStatus(t, s.Do(from(ip, cheap())), http.StatusBadRequest)
	}
	expectTooMany(t, s.Do(withHeader(from(ip, cheap()), "X-Forwarded-For", "10.0.0.1")), 2)
	// A request without the header (not through the proxy) is the
	// connection's address, which has a bucket of its own.
	expectStatus(t, s.Do(cheap()), http.StatusBadRequest)
}

// A host usually holds a whole IPv6 /64: walking it must not buy fresh
// buckets.
func TestIPv6ClientsShareTheirSlash64(t *testing.T) {
	s := ipLimited(t, behindProxy)
	defer s.Unchanged(s.Snapshot())
	for i := range 5 {
		expectStatus(t, s.Do(from(fmt.Sprintf("2001:db8:1:2::%x", i+1), cheap())), http.StatusBadRequest)
	}
	for _, ip := range []string{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:DB8:1:2::99", "2001:db8:1:2::1%eth0"} {
		expectTooMany(t, s.Do(from(ip, cheap())), 2)
	}
	// The next /64, and IPv4, have their own.
	expectStatus(t, s.Do(from("2001:db8:1:3::1", cheap())), http.StatusBadRequest)
	expectStatus(t, s.Do(from("192.0.2.9", cheap())), http.StatusBadRequest)
}

// An IPv4 client seen as an IPv4-mapped IPv6 address is the same client.
func TestIPv4MappedAddressIsTheIPv4Client(t *testing.T) {
	s := ipLimited(t, behindProxy)
	defer s.Unchanged(s.Snapshot())
	for range 5 {
		expectStatus(t, s.Do(from("192.0.2.77", cheap())), http.StatusBadRequest)
	}
	expectTooMany(t, s.Do(from("::ffff:192.0.2.77", cheap())), 2)
}

func TestManyAddressesEachGetABucket(t *testing.T) {
	s := ipLimited(t, behindProxy)
	for i := range 200 {
		ip := fmt.Sprintf("10.%d.%d.1", i/256, i%256)
		expectStatus(t, s.Do(from(ip, cheap())), http.StatusBadRequest)
	}
}

func TestIPBucketOff(t *testing.T) {
	s := newServer(t) // IPBurst 0
	for range 50 {
		expectStatus(t, s.Do(cheap()), http.StatusBadRequest)
	}
}

// noIPBucket leaves the general per-address bucket out of tests that watch
// a stricter one, so that the clock need not move between requests.
func noIPBucket(c *config.Config) { c.IPBurst = 0 }

func TestRegisterLimitPerAddress(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(behindProxy), servertest.WithConfig(noIPBucket))
	const ip, other = "203.0.113.9", "203.0.113.10"
	register := func(ip, name string) *servertest.Response {
		return s.Do(from(ip, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": id(name)}}))
	}
	for i := range 10 {
		expectStatus(t, register(ip, fmt.Sprint("new-user-", i)), http.StatusOK)
	}
	before := s.Snapshot()
	// Ten an hour: one more every six minutes.
	expectTooMany(t, register(ip, "new-user-10"), 360)
	s.Unchanged(before)
	s.Clock.Advance(time.Minute)
	expectTooMany(t, register(ip, "new-user-0"), 300)
	s.Unchanged(before)

	// Failed registrations count too: they are how names are probed.
	const prober = "203.0.113.11"
	for range 10 {
		expectError(t, register(prober, "new-user-0"), http.StatusConflict)
	}
	expectTooMany(t, register(prober, "prober-user"), 360)
	s.Unchanged(before)

	expectStatus(t, register(other, "other-user"), http.StatusOK)

	s.Clock.Advance(5 * time.Minute)
	expectStatus(t, register(ip, "new-user-10"), http.StatusOK)
	before = s.Snapshot()
	expectTooMany(t, register(ip, "new-user-11"), 360)
	s.Unchanged(before)
}

func TestFailedLookupsSlowPerAddressAndUser(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(behindProxy), servertest.WithConfig(noIPBucket))
	u, k, victim := id("looked-up"), id("looked-up-key"), id("other-user")
	const owner, guesser = "198.51.100.1", "203.0.113.66"
	expectStatus(t, s.Do(from(owner, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})), http.StatusOK)
	expectStatus(t, s.Do(from(owner, saveReq(u, k, envelope(32, 'o')))), http.StatusOK)
	expectStatus(t, s.Do(from(owner, servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": victim}})), http.StatusOK)

	before := s.Snapshot()
	guess := func(i int) servertest.Request {
		key := id(fmt.Sprint("guess-", i))
		if i%2 == 0 {
			return from(guesser, servertest.Request{Method: "GET", Path: getPath(u, key)})
		}
		return from(guesser, deleteReq(u, key))
	}
	for i := range 10 {
		expectError(t, s.Do(guess(i)), http.StatusNotFound)
	}
	s.Unchanged(before)
	// Ten failures, then one try every 30 s.
	expectTooMany(t, s.Do(guess(10)), 30)
	s.Clock.Advance(10 * time.Second)
	expectTooMany(t, s.Do(guess(11)), 20)
	// Even the right key, from this address, waits: the guesser cannot tell
	// a hit from a refusal.
	expectTooMany(t, s.Do(from(guesser, servertest.Request{Method: "GET", Path: getPath(u, k)})), 20)
	s.Unchanged(before)

	// The owner, elsewhere, is not slowed.
	expectStatus(t, s.Do(from(owner, servertest.Request{Method: "GET", Path: getPath(u, k)})), http.StatusOK)
	// Nor is the guesser for another user.
	expectError(t, s.Do(from(guesser, servertest.Request{Method: "GET", Path: getPath(victim, id("x"))})), http.StatusNotFound)

	s.Clock.Advance(20 * time.Second)
	expectError(t, s.Do(guess(12)), http.StatusNotFound)
	expectTooMany(t, s.Do(guess(13)), 30)
	s.Unchanged(before)
}
