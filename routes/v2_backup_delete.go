package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

// v2BackupDelete handles DELETE /api/v2/backups/{id}: the backup and its
// history; the account stays.
func (h *handlers) v2BackupDelete(e *core.RequestEvent) error {
	_, key, err := h.backupKey(e)
	if err != nil {
		return err
	}
	if _, err := query(e); err != nil {
		return err
	}
	if err := h.Store.DeleteBackup(e.Request.Context(), sessionUser(e), key); err != nil {
		return v2NotFound(e, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]bool{"success": true})
}
