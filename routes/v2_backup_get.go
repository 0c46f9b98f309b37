package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// noBackup answers a backupId (or version) the account does not hold. The
// session proves the account, so this reveals nothing to a stranger.
const noBackup = "This account has no such backup or version."

// v2BackupGet handles GET /api/v2/backups/{id}[?version=N]: the newest
// version or the given one, with the sealed v1 key for an upgraded backup.
func (h *handlers) v2BackupGet(e *core.RequestEvent) error {
	_, key, err := h.backupKey(e)
	if err != nil {
		return err
	}
	q, err := query(e, "version")
	if err != nil {
		return err
	}
	v, err := version(q)
	if err != nil {
		return err
	}
	user := sessionUser(e)
	b, err := h.Store.GetBackup(e.Request.Context(), user, key, v)
	if err != nil {
		return v2NotFound(e, err)
	}
	e.Response.Header().Set("ETag", etag(b.Version))
	if notModified(e.Request.Header.Get("If-None-Match"), b.Version) {
		return e.NoContent(http.StatusNotModified)
	}
	h.Events.Record(user, key, store.EventRestored, h.Now())
	extra := ""
	if b.LegacyKey != "" {
		extra = `,"wrappedLegacyKey":"` + b.LegacyKey + `"` // canonical base64: nothing to escape
	}
	return writeBackupWith(e, b, extra)
}

// v2NotFound answers a store error of a backup route.
func v2NotFound(e *core.RequestEvent, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return hooks.Fail(http.StatusNotFound, noBackup)
	}
	return storeError(e, err)
}
