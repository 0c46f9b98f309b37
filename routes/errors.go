package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// notFoundMsg is the one answer for a user or key that proves nothing: it
// must not tell which of the two was wrong.
const notFoundMsg = "No backup was found for this user and password."

// storeError maps the store's closed set of errors to HTTP; it is the only
// place that does. Faults stay generic (the error-shape middleware logs them).
func storeError(e *core.RequestEvent, err error) error {
	var le *store.LimitError
	var se *store.StaleError
	switch {
	case errors.As(err, &le):
		return hooks.TooMany(e, le.RetryAfter, "Limit reached: "+le.Reason+".")
	case errors.As(err, &se):
		if se.Current > 0 { // else there is no backup yet, so no version to name
			e.Response.Header().Set("ETag", etag(se.Current))
		}
		return hooks.Fail(http.StatusPreconditionFailed, "The backup changed since the version this save was based on.")
	case errors.Is(err, store.ErrNotFound):
		return hooks.Fail(http.StatusNotFound, notFoundMsg)
	case errors.Is(err, store.ErrAccount):
		return hooks.Fail(http.StatusConflict, "This username has moved to protocol v2: sign in with an updated app.")
	case errors.Is(err, store.ErrExists):
		return hooks.Fail(http.StatusConflict, "This user is already registered.")
	case errors.Is(err, store.ErrQuota):
		return hooks.Fail(http.StatusRequestEntityTooLarge, "This save would exceed the user's storage quota.")
	case errors.Is(err, store.ErrReplay):
		return hooks.Fail(http.StatusUnauthorized, "This request was already received.")
	case errors.Is(err, store.ErrNoSpace):
		return hooks.Fail(http.StatusInsufficientStorage, "The server is out of storage space; existing backups can still be restored.")
	case errors.Is(err, store.ErrUnavailable):
		return hooks.Fail(http.StatusServiceUnavailable, "The database is unavailable; try again shortly.")
	}
	return err
}
