package routes

import (
	"errors"
	"net/url"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// readIDs binds the ids of a read from the query string (plus the extra
// parameters the endpoint allows) and refuses early, with no database work,
// when this address has failed too often for this user: online password
// guessing is slowed per (address, user), so a stranger cannot lock the
// owner, who comes from another address, out.
func (h *handlers) readIDs(e *core.RequestEvent, extra ...string) (ids, url.Values, error) {
	q, err := query(e, append([]string{"userId", "storageKey"}, extra...)...)
	if err != nil {
		return ids{}, nil, err
	}
	id, err := h.pepperIDs(q.Get("userId"), q.Get("storageKey"))
	if err != nil {
		return ids{}, nil, err
	}
	return id, q, h.checkLookups(e, id)
}

func (h *handlers) checkLookups(e *core.RequestEvent, id ids) error {
	if ok, wait := h.failedLookups.Check(lookupKey(e, id)); !ok {
		return hooks.TooMany(e, wait, "Too many failed attempts for this user from this address.")
	}
	return nil
}

// lookupFailed counts a lookup that proved nothing and answers.
func (h *handlers) lookupFailed(e *core.RequestEvent, id ids, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		h.failedAttempt(e, id)
	}
	return storeError(e, err)
}

// failedAttempt counts a request whose key proved nothing, both against the
// address's budget and in the user's activity log.
func (h *handlers) failedAttempt(e *core.RequestEvent, id ids) {
	h.failedLookups.Allow(lookupKey(e, id))
	h.Events.Record(id.user, "", store.EventFailedAttempt, h.Now())
}

func lookupKey(e *core.RequestEvent, id ids) string { return hooks.ClientIP(e) + "|" + id.user }
