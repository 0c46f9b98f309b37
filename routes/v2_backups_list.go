package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type backupInfoJSON struct {
	ID        string `json:"id"`
	Version   int64  `json:"version"`
	Size      int64  `json:"size"`
	UpdatedAt string `json:"updatedAt"`
}

// v2BackupsList handles GET /api/v2/backups: the account's backups, newest
// save first, so that a new device finds them.
func (h *handlers) v2BackupsList(e *core.RequestEvent) error {
	if _, err := query(e); err != nil {
		return err
	}
	bs, err := h.Store.ListBackups(e.Request.Context(), sessionUser(e))
	if err != nil {
		return storeError(e, err)
	}
	out := make([]backupInfoJSON, len(bs))
	for i, b := range bs {
		out[i] = backupInfoJSON{b.Name, b.Version, b.Size, timestamp(b.UpdatedAt)}
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]any{"backups": out})
}
