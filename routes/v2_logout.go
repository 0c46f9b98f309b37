package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// v2Logout handles POST /api/v2/logout: the session ends now, not at its
// expiry.
func (h *handlers) v2Logout(e *core.RequestEvent) error {
	err := h.Store.DeleteSession(e.Request.Context(), sessionToken(e))
	if errors.Is(err, store.ErrNotFound) { // ended by a concurrent request
		return hooks.Fail(http.StatusUnauthorized, signInAgain)
	}
	if err != nil {
		return storeError(e, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]bool{"success": true})
}
