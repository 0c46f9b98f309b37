package usage

import (
	"context"
	"sync"
	"time"

	"github.com/dailyreps/backup/store"
)

// DefaultTTL is how long the store's figures are reused: scrapes and the
// dashboard cost at most one read of the store per instance per TTL, and
// what they show is never older than that.
const DefaultTTL = 15 * time.Second

// readTimeout bounds one read of the figures.
const readTimeout = 5 * time.Second

// Cache reads the store's figures at most once per TTL. The mutex is held
// during the read, so concurrent callers wait for one query instead of each
// sending their own; a failure is cached too, so that callers of a
// struggling database do not add to its load.
type Cache struct {
	fetch func(context.Context, time.Time) (store.Stats, error)
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	fetched time.Time
	stats   store.Stats
	err     error
}

// NewCache caches fetch for ttl (0: DefaultTTL); now nil is time.Now.
func NewCache(fetch func(context.Context, time.Time) (store.Stats, error), ttl time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, ttl: ttl, now: now}
}

// Get returns the figures, read at most TTL ago.
func (c *Cache) Get(ctx context.Context) (store.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if age := now.Sub(c.fetched); !c.fetched.IsZero() && age >= 0 && age < c.ttl {
		return c.stats, c.err
	}
	// The caller's own context is not used: one impatient caller must not
	// leave a cancelled read cached for everyone else.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	c.stats, c.err = c.fetch(ctx, now)
	c.fetched = now
	return c.stats, c.err
}
