package hooks

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/dailyreps/backup/limiter"
)

// IPLimit takes a token from the client address's bucket before any database
// work; an empty bucket is a 429.
func IPLimit(buckets *limiter.Keyed) *hook.Handler[*core.RequestEvent] {
	return RouteLimit(IdIPLimit, PriorityIPLimit, buckets, "Too many requests from this address.")
}

// RouteLimit is IPLimit for one route's own, stricter bucket (registrations).
func RouteLimit(id string, priority int, buckets *limiter.Keyed, msg string) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       id,
		Priority: priority,
		Func: func(e *core.RequestEvent) error {
			if ok, wait := buckets.Allow(ClientIP(e)); !ok {
				return TooMany(e, wait, msg)
			}
			return e.Next()
		},
	}
}

// TooMany refuses with 429 and a Retry-After in whole seconds, rounded up.
func TooMany(e *core.RequestEvent, wait time.Duration, msg string) error {
	secs := int64(math.Ceil(wait.Seconds()))
	e.Response.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	return Fail(http.StatusTooManyRequests, msg)
}
