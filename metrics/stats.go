package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/dailyreps/backup/store"
)

// statsCache reads the store's totals at most once per ttl. The mutex is held
// during the read, so concurrent scrapes wait for one query instead of each
// sending their own; a failure is cached too, so that scrapes of a struggling
// database do not add to its load.
type statsCache struct {
	fetch func(context.Context) (store.Stats, error)
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	fetched time.Time
	stats   store.Stats
	err     error
}

func (c *statsCache) get(ctx context.Context) (store.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if age := now.Sub(c.fetched); !c.fetched.IsZero() && age >= 0 && age < c.ttl {
		return c.stats, c.err
	}
	// The scrape's own context is not used: one impatient scraper must not
	// leave a cancelled read cached for everyone else.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statsTimeout)
	defer cancel()
	c.stats, c.err = c.fetch(ctx)
	c.fetched = now
	return c.stats, c.err
}
