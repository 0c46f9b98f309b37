package routes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// sizedData is a well-formed data value of exactly n bytes (n >= 96).
func sizedData(t *testing.T, n int, fill byte) string {
	t.Helper()
	frame := func(ct, pad string) string {
		b, _ := json.Marshal(map[string]string{"encrypted": ct, "nonce": "AAECAwQFBgcICQoL", "version": pad})
		return string(b)
	}
	room := n - len(frame("", ""))
	ctLen := room / 4 * 4
	if ctLen < 24 {
		t.Fatalf("no envelope of %d bytes", n)
	}
	ct := strings.Repeat(string(rune('A'+fill%26)), ctLen)
	out := frame(ct, strings.Repeat("x", room-ctLen))
	if len(out) != n {
		t.Fatalf("envelope of %d bytes, want %d", len(out), n)
	}
	return out
}

// A stranger who knows the owner's userId, and nothing else, hammers it from
// another address with every request the API has: registrations, reads and
// deletes with guessed keys, and saves of the largest junk under new keys,
// pacing them so that the per-address bucket never stops it, while the
// owner keeps saving and restoring its backup every quarter of an hour. All
// limits are at their defaults.
func TestStrangerCannotStopTheOwner(t *testing.T) {
	ownerKeepsWorking(t, false)
}

// The same stranger also fills the user's quota with junk under the keys it
// created, reading the room left through their usage, as a determined one
// would. The quota is scaled down (with the junk) so that it fills in a few
// rounds; every other limit is at its default.
func TestStrangerCannotStopTheOwnerByFillingTheQuota(t *testing.T) {
	ownerKeepsWorking(t, true)
}

func ownerKeepsWorking(t *testing.T, fillQuota bool) {
	junk := 5 << 20
	s := servertest.New(t, servertest.WithConfig(behindProxy), servertest.WithConfig(func(c *config.Config) {
		if fillQuota {
			c.UserQuotaBytes = 2 << 20
			junk = 512 << 10
		}
	}))
	const ownerIP, strangerIP = "198.51.100.10", "203.0.113.200"
	u, k := id("owner-of-a-known-name"), id("owner-key")
	owner := func(r servertest.Request) *servertest.Response { return s.Do(from(ownerIP, r)) }

	expectStatus(t, owner(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}), http.StatusOK)

	st := &stranger{t: t, s: s, ip: strangerIP, user: u, fillQuota: fillQuota, junk: junk}
	for round := range 12 {
		// The owner's data grows a little with every save, as a log does.
		data := sizedData(t, 4096+64*round, byte(round))
		r := owner(saveReq(u, k, data))
		if r.Status != http.StatusOK {
			t.Fatalf("round %d: the owner's save was refused: %d %s", round, r.Status, r.Body)
		}
		r = owner(servertest.Request{Method: "GET", Path: getPath(u, k)})
		if r.Status != http.StatusOK || r.JSON(t)["data"] != data {
			t.Fatalf("round %d: the owner's restore failed: %d %.200s", round, r.Status, r.Body)
		}

		st.hammer(time.Minute)
		s.Clock.Advance(14 * time.Minute)
	}
	if st.refused == 0 || st.junkSaved == 0 {
		t.Fatalf("the stranger was never refused (%d) or never stored junk (%d): the test proves nothing", st.refused, st.junkSaved)
	}
}

type stranger struct {
	t         *testing.T
	s         *servertest.Server
	ip, user  string
	fillQuota bool
	junk      int  // the largest junk it sends
	capped    bool // no new key is taken any more
	fillSize  int  // the junk the server last took
	junkKeys  []string
	n         int
	refused   int
	junkSaved int
}

// hammer sends requests for d of the clock, one every 2 s: as fast as the
// per-address bucket lets it.
func (st *stranger) hammer(d time.Duration) {
	st.t.Helper()
	for end := st.s.Clock.Now().Add(d); st.s.Clock.Now().Before(end); {
		st.s.Clock.Advance(2 * time.Second)
		st.n++
		switch st.n % 5 {
		case 0:
			st.expect(st.send(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": st.user}}), 409)
		case 1:
			st.expect(st.send(servertest.Request{Method: "GET", Path: getPath(st.user, id(fmt.Sprint("guess-", st.n)))}), 404)
		case 2:
			st.expect(st.send(deleteReq(st.user, id(fmt.Sprint("guess-", st.n)))), 404)
		default:
			if st.fillQuota && len(st.junkKeys) > 0 && st.n%2 == 0 {
				st.fill()
			} else {
				st.newKey()
			}
		}
	}
	// And a burst beyond the bucket.
	for range 10 {
		st.expect(st.send(servertest.Request{Method: "GET", Path: getPath(st.user, id("burst"))}), 404)
	}
}

func (st *stranger) send(r servertest.Request) *servertest.Response {
	return st.s.Do(from(st.ip, r))
}

// expect accepts want or a refusal by a limit; anything else fails.
func (st *stranger) expect(r *servertest.Response, want ...int) {
	st.t.Helper()
	switch {
	case r.Status == http.StatusTooManyRequests:
		st.refused++
		if r.Header.Get("Retry-After") == "" {
			st.t.Fatalf("429 without Retry-After: %s", r.Body)
		}
	case slices.Contains(want, r.Status):
	default:
		st.t.Fatalf("stranger request answered %d, want %v or 429: %.200s", r.Status, want, r.Body)
	}
}

// newKey saves the largest junk under a key of the stranger's making.
func (st *stranger) newKey() {
	st.t.Helper()
	k := id(fmt.Sprint("junk-", st.n))
	size := st.junk
	if st.capped {
		size = 4096 // refused whatever its size: spare the test the upload
	}
	r := st.send(saveReq(st.user, k, sizedData(st.t, size, 'j')))
	st.expect(r, http.StatusOK, http.StatusRequestEntityTooLarge)
	switch r.Status {
	case http.StatusOK:
		st.junkKeys = append(st.junkKeys, k)
		st.junkSaved++
	case http.StatusTooManyRequests:
		st.capped = true
	}
}

// fill saves junk under one of the stranger's keys: as much as the user's
// quota has room for, as that key lets it read, or else as much as the
// server last took, halving on every refusal.
func (st *stranger) fill() {
	st.t.Helper()
	k := st.junkKeys[st.n%len(st.junkKeys)]
	u := st.send(servertest.Request{Method: "GET", Path: "/api/usage?userId=" + st.user + "&storageKey=" + k})
	st.expect(u, http.StatusOK)
	if u.Status != http.StatusOK {
		return
	}
	st.s.Clock.Advance(2 * time.Second) // the next token
	m := u.JSON(st.t)
	if st.fillSize == 0 {
		st.fillSize = st.junk
	}
	size := st.fillSize
	if room := int(m["quotaBytes"].(float64) - m["bytesUsed"].(float64)); room >= 4096 {
		size = min(size, room)
	}
	r := st.send(saveReq(st.user, k, sizedData(st.t, size, byte(st.n))))
	st.expect(r, http.StatusOK, http.StatusRequestEntityTooLarge)
	switch r.Status {
	case http.StatusOK:
		st.junkSaved++
	case http.StatusRequestEntityTooLarge:
		st.fillSize = max(size/2, 4096)
	}
}
