package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type authRequest struct {
	Auth string `json:"auth"`
}

// v2AccountDelete handles DELETE /api/v2/account: a session and the
// password's key remove the account, every backup and version of it and
// every session. The key is asked for too, so that a device left signed in
// cannot erase everything.
func (h *handlers) v2AccountDelete(e *core.RequestEvent) error {
	var req authRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	auth, err := authKey("auth", req.Auth)
	if err != nil {
		return err
	}
	user := sessionUser(e)
	if _, err := h.verifyAccount(e, user, "auth", auth); err != nil {
		return err
	}
	if err := h.Store.DeleteUser(e.Request.Context(), user); err != nil {
		return storeError(e, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]bool{"success": true})
}
