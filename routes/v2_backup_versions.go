package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

// v2BackupVersions handles GET /api/v2/backups/{id}/versions: newest first,
// as v1.
func (h *handlers) v2BackupVersions(e *core.RequestEvent) error {
	_, key, err := h.backupKey(e)
	if err != nil {
		return err
	}
	if _, err := query(e); err != nil {
		return err
	}
	vs, err := h.Store.Versions(e.Request.Context(), sessionUser(e), key)
	if err != nil {
		return v2NotFound(e, err)
	}
	out := make([]versionJSON, len(vs))
	for i, v := range vs {
		out[i] = versionJSON{v.Version, timestamp(v.UpdatedAt), v.Size}
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]any{"versions": out})
}
