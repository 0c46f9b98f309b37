package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type keyRequest struct {
	UserID     string `json:"userId"`
	StorageKey string `json:"storageKey"`
}

// userDelete handles DELETE /api/user: it removes the backup the key proves
// (and the user once none is left), never a backup written under another key.
func (h *handlers) userDelete(e *core.RequestEvent) error {
	var req keyRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	id, err := h.pepperIDs(req.UserID, req.StorageKey)
	if err != nil {
		return err
	}
	if err := h.checkLookups(e, id); err != nil {
		return err
	}
	if err := h.Store.DeleteBackup(e.Request.Context(), id.user, id.key); err != nil {
		return h.lookupFailed(e, id, err)
	}
	// Under v1 each password is a backup of its own, so the owner learns
	// whether backups under other passwords survive (usage reports the same
	// count). Additive: the original client reads only "success". The delete
	// is done, so a failed count leaves the field out rather than fail it.
	res := deleteResponse{Success: true}
	if left, err := h.Store.CountBackups(e.Request.Context(), id.user); err == nil {
		res.RemainingBackups = &left
	}
	return hooks.WriteJSON(e, http.StatusOK, res)
}

type deleteResponse struct {
	Success          bool   `json:"success"`
	RemainingBackups *int64 `json:"remainingBackups,omitempty"`
}
