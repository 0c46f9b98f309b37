package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type usageJSON struct {
	BytesUsed  int64 `json:"bytesUsed"`
	QuotaBytes int64 `json:"quotaBytes"`
	Backups    int64 `json:"backups"`
	Versions   int64 `json:"versions"`
}

// usageGet handles GET /api/usage: the user's storage, history included.
func (h *handlers) usageGet(e *core.RequestEvent) error {
	id, _, err := h.readIDs(e)
	if err != nil {
		return err
	}
	u, err := h.Store.Usage(e.Request.Context(), id.user, id.key)
	if err != nil {
		return h.lookupFailed(e, id, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, usageJSON{u.BytesUsed, h.Config.UserQuotaBytes, u.Backups, u.Versions})
}
