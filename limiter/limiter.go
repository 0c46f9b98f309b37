// Package limiter keeps token buckets per key (a client address, an address
// and user pair) in memory, with a bound on how many it holds so that a flood
// from many distinct addresses cannot grow memory without limit.
package limiter

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets, one per key. The zero value is not usable.
type Keyed struct {
	every      rate.Limit
	burst      int
	maxEntries int
	now        func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns buckets of burst tokens refilled one per refill, holding at
// most maxEntries keys. A burst or refill of 0 turns the limit off.
func New(burst int, refill time.Duration, maxEntries int, now func() time.Time) *Keyed {
	if now == nil {
		now = time.Now
	}
	k := &Keyed{burst: burst, maxEntries: maxEntries, now: now, buckets: map[string]*rate.Limiter{}}
	if refill > 0 {
		k.every = rate.Every(refill)
	}
	return k
}

// Off reports whether the limit is turned off.
func (k *Keyed) Off() bool { return k == nil || k.burst <= 0 || k.every == 0 }

// Allow takes a token for key. When none is left it returns false and how
// long until one is.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	if k.Off() {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.bucket(key, now)
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, k.wait(l, now)
}

// Check reports, without taking a token, whether key has one left.
func (k *Keyed) Check(key string) (bool, time.Duration) {
	if k.Off() {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets[key]
	if !ok || l.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, k.wait(l, now)
}

// Len is the number of keys held.
func (k *Keyed) Len() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

func (k *Keyed) wait(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	// Rounded up to the microsecond, so that a client that comes back
	// exactly then finds a token; a nanosecond of slack absorbs float noise,
	// which would otherwise make 20 s 20.000001 s (a Retry-After of 21).
	micros := missing / float64(k.every) * 1e6
	d := time.Duration(math.Ceil(micros-1e-3)) * time.Microsecond
	return max(d, time.Second)
}

func (k *Keyed) bucket(key string, now time.Time) *rate.Limiter {
	if l, ok := k.buckets[key]; ok {
		return l
	}
	if len(k.buckets) >= k.maxEntries {
		k.evict(now)
	}
	l := rate.NewLimiter(k.every, k.burst)
	k.buckets[key] = l
	return l
}

// evict makes room by dropping buckets down to half the bound, those whose
// loss matters least first: full ones (forgotten at no cost, since a new
// bucket starts full), then ones a token short (keys seen once). Buckets in
// real use, those refusing their key among them, go only when that is not
// enough, which takes a flood of busy keys wider than the bound: memory stays
// bounded at the cost of letting such a flood through a little faster.
func (k *Keyed) evict(now time.Time) {
	target := k.maxEntries / 2
	for _, spare := range []float64{float64(k.burst), float64(k.burst - 1), math.Inf(-1)} {
		for key, l := range k.buckets {
			if len(k.buckets) <= target {
				return
			}
			if l.TokensAt(now) >= spare {
				delete(k.buckets, key)
			}
		}
	}
}
