package main

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/dailyreps/backup/client"
)

// Signed workloads. wrk's Lua has no HMAC, so requests that must be signed
// (a fresh timestamp, signature and nonce each) are generated in Go and sent
// by vegeta's attacker, as a closed loop of conc workers. The same requests
// go to every server of the phase, so the ratios compare like with like; the
// bare and open servers ignore the signature headers.

// Limits of the guarded configuration (the defaults) that shape the pools.
const (
	savesPerKeyPerHour = 5        // DAILYREPS_SAVES_PER_HOUR
	backupsPerUser     = 5        // DAILYREPS_MAX_BACKUPS_PER_USER
	userQuota          = 50 << 20 // DAILYREPS_USER_QUOTA_BYTES
	// signatureSpread bounds how far back a restore's timestamp goes, inside
	// the 300 s signature window with room for the run itself.
	signatureSpread = 240
)

// expectedRate is a generous ceiling of the request rate of a call at a size
// on a small machine, used to size the first repetition's pools of users and
// keys; later ones size them from what was measured. A run that exhausts its
// pool ends early and says so: its rate is still right.
func expectedRate(op string, size int) float64 {
	switch op {
	case opSave:
		return min(1500, 6e7/float64(size))
	case opRestore:
		return min(5000, 3e8/float64(size))
	}
	return 0
}

var errPoolSpent = errors.New("the workload's pool of keys is spent")

type vuser struct{ id, ip string }

type vkey struct {
	user int // index into users
	key  string
}

// signedWorkload generates the requests of one call and size for one server
// process: a pool of users and keys created before the measurement (setup),
// then an endless stream of distinct signed requests over them (next).
type signedWorkload struct {
	op     string
	size   int
	secret []byte
	salt   uint32 // keeps ids and nonces apart between workloads

	users []vuser
	keys  []vkey
	n     atomic.Uint64 // requests handed out

	// save: the body up to the envelope's nonce, and the SHA-256 state after
	// it, so that signing a fresh body hashes only its last few bytes.
	prefix      []byte
	prefixState []byte
	ct          string

	t0 int64 // restore: the newest timestamp handed out
}

func newSignedWorkload(op string, size int, salt uint32, budget float64) (*signedWorkload, error) {
	w := &signedWorkload{op: op, size: size, secret: []byte(benchSecret), salt: salt}
	var nkeys int
	switch op {
	case opRegister:
		return w, nil
	case opSave:
		// Every key takes one save in setup and the rest of its hourly
		// allowance in the run.
		nkeys = int(budget)/(savesPerKeyPerHour-1) + 1
	case opRestore:
		// Requests reuse a key with a timestamp one second older each
		// round, so that no two signatures are the same.
		nkeys = int(budget)/signatureSpread + 1
	}
	// Within the quota: each key holds at most savesPerKeyPerHour versions.
	perUser := max(min(backupsPerUser, userQuota/(savesPerKeyPerHour*(size+1024))), 1)
	for i := range nkeys {
		if i%perUser == 0 {
			u := len(w.users)
			w.users = append(w.users, vuser{id(fmt.Sprintf("signed-user-%d-%d", salt, u)), clientIP(u)})
		}
		w.keys = append(w.keys, vkey{len(w.users) - 1, id(fmt.Sprintf("signed-key-%d-%d", salt, i))})
	}
	w.ct = ciphertext(size)
	w.prefix = []byte(`{"data":"{\"encrypted\":\"` + w.ct + `\",\"nonce\":\"`)
	h := sha256.New()
	h.Write(w.prefix)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	w.prefixState = state
	return w, nil
}

// clientIP is the address of virtual client i, in 127/8: only a header
// value, since every request goes to the server over 127.0.0.1.
func clientIP(i int) string {
	return fmt.Sprintf("127.%d.%d.%d", 1+(i>>16)%254, (i>>8)&0xff, i&0xff)
}

// setup creates the pool: users first, then one save per key.
func (w *signedWorkload) setup(ctx context.Context, baseURL string) error {
	var regs, saves []vegeta.Target
	for _, u := range w.users {
		regs = append(regs, w.signed(http.MethodPost, "/api/register", u.ip, registerBody(u.id), time.Now().Unix()))
	}
	for i, k := range w.keys {
		u := w.users[k.user]
		// Setup nonces count down from the top, far from the run's.
		body := w.saveBody(u.id, k.key, ^uint64(i))
		saves = append(saves, w.signed(http.MethodPost, "/api/backup", u.ip, body, time.Now().Unix()))
	}
	for _, batch := range [][]vegeta.Target{regs, saves} {
		if err := runAll(ctx, baseURL, batch); err != nil {
			return err
		}
	}
	// The restore timestamps start now and go back one second per round.
	w.t0 = time.Now().Unix()
	return nil
}

// next fills the next request of the stream.
func (w *signedWorkload) next(t *vegeta.Target) error {
	n := w.n.Add(1) - 1
	switch w.op {
	case opRegister:
		// A new user from a new address: the per-address limits on
		// registrations are as they ship.
		user := id(fmt.Sprintf("signed-register-%d-%d", w.salt, n))
		*t = w.signed(http.MethodPost, "/api/register", clientIP(1<<20+int(n)), registerBody(user), time.Now().Unix())
	case opSave:
		round := n / uint64(len(w.keys))
		if round >= savesPerKeyPerHour-1 {
			return errPoolSpent
		}
		k := w.keys[n%uint64(len(w.keys))]
		u := w.users[k.user]
		*t = w.signed(http.MethodPost, "/api/backup", u.ip, w.saveBody(u.id, k.key, n), time.Now().Unix())
	case opRestore:
		round := n / uint64(len(w.keys))
		if round >= signatureSpread {
			return errPoolSpent
		}
		k := w.keys[n%uint64(len(w.keys))]
		u := w.users[k.user]
		*t = w.signed(http.MethodGet, restorePath(u.id, k.key), u.ip, nil, w.t0-int64(round))
	}
	return nil
}

// saveBody is a save of the workload's size with a fresh envelope nonce. The
// members come in an order that puts everything that varies at the end.
func (w *signedWorkload) saveBody(user, key string, n uint64) []byte {
	suffix := nonceB64(w.salt, n) + `\"}","userId":"` + user + `","storageKey":"` + key + `"}`
	return append(append(make([]byte, 0, len(w.prefix)+len(suffix)), w.prefix...), suffix...)
}

// signed builds a request with its signature headers. A save's body hash
// resumes from the state after the common prefix.
func (w *signedWorkload) signed(method, path, ip string, body []byte, ts int64) vegeta.Target {
	h := http.Header{}
	h.Set(clientIPHeader, ip)
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	var bodyHash string
	if path == "/api/backup" && method == http.MethodPost {
		d := sha256.New()
		// The state was marshaled from the same kind of hash.
		_ = d.(encoding.BinaryUnmarshaler).UnmarshalBinary(w.prefixState)
		d.Write(body[len(w.prefix):])
		bodyHash = hex.EncodeToString(d.Sum(nil))
	} else {
		bodyHash = client.BodyHash(body)
	}
	sig := client.SignBodyHash(w.secret, ts, method, path, bodyHash)
	h.Set(client.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(client.HeaderSignature, sig)
	return vegeta.Target{Method: method, URL: path, Body: body, Header: h}
}

// attacker is vegeta's, as a closed loop: conc workers each send their next
// request when the previous one is answered, over kept-alive connections.
func attacker(conc int, maxBody int64) *vegeta.Attacker {
	return vegeta.NewAttacker(
		vegeta.Workers(uint64(conc)), vegeta.MaxWorkers(uint64(conc)),
		vegeta.Connections(conc), vegeta.MaxConnections(conc), vegeta.KeepAlive(true),
		vegeta.HTTP2(false), vegeta.Redirects(vegeta.NoFollow), vegeta.Timeout(time.Minute),
		vegeta.MaxBody(maxBody))
}

// runAll sends every target once, ten at a time, and fails on any error.
func runAll(ctx context.Context, baseURL string, targets []vegeta.Target) error {
	var i atomic.Int64
	tr := func(t *vegeta.Target) error {
		n := i.Add(1) - 1
		if n >= int64(len(targets)) {
			return vegeta.ErrNoTargets
		}
		*t = targets[n]
		t.URL = baseURL + t.URL
		return nil
	}
	a := attacker(10, 4096)
	defer a.Stop()
	for res := range a.Attack(tr, vegeta.ConstantPacer{}, 0, "setup") {
		if res.Error == vegeta.ErrNoTargets.Error() {
			continue
		}
		if res.Code != http.StatusOK {
			return fmt.Errorf("setup %s %s: %d %s %s", res.Method, res.URL, res.Code, res.Error, res.Body)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// attack runs w against baseURL with conc workers for d and measures it.
// spent reports that the pool ran out before d.
func attack(ctx context.Context, baseURL string, w *signedWorkload, conc int, d time.Duration) (res loadResult, spent bool, err error) {
	tr := func(t *vegeta.Target) error {
		if err := w.next(t); err != nil {
			return err
		}
		t.URL = baseURL + t.URL
		return nil
	}
	a := attacker(conc, 0) // bodies are drained, not kept
	defer a.Stop()
	var lat []time.Duration
	var first, last time.Time
	for r := range a.Attack(tr, vegeta.ConstantPacer{}, d, "bench") {
		if r.Error == errPoolSpent.Error() {
			spent = true
			continue
		}
		if ctx.Err() != nil {
			return res, spent, ctx.Err()
		}
		res.Requests++
		if r.Code/100 != 2 {
			res.Errors++
		}
		lat = append(lat, r.Latency)
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.End(); end.After(last) {
			last = end
		}
	}
	if len(lat) == 0 {
		return res, spent, errors.New("no request completed")
	}
	res.Elapsed = last.Sub(first)
	slices.Sort(lat)
	res.P50, res.P95, res.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	return res, spent, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
