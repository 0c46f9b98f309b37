package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type versionJSON struct {
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updatedAt"`
	Size      int64  `json:"size"`
}

// backupVersions handles GET /api/backup/versions: newest first.
func (h *handlers) backupVersions(e *core.RequestEvent) error {
	id, _, err := h.readIDs(e)
	if err != nil {
		return err
	}
	vs, err := h.Store.Versions(e.Request.Context(), id.user, id.key)
	if err != nil {
		return h.lookupFailed(e, id, err)
	}
	out := make([]versionJSON, len(vs))
	for i, v := range vs {
		out[i] = versionJSON{v.Version, timestamp(v.UpdatedAt), v.Size}
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]any{"versions": out})
}
