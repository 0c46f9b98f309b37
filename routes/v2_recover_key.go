package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type recoverKeyRequest struct {
	AccountID    string `json:"accountId"`
	RecoveryAuth string `json:"recoveryAuth"`
}

// v2RecoverKey handles POST /api/v2/recover/key: the data key sealed under
// the recovery code, which a client needs before /api/v2/recover (it must
// re-wrap the data key, and the forgotten password cannot unwrap the other
// copy). It checks and counts the code exactly as a recovery does and
// changes nothing.
func (h *handlers) v2RecoverKey(e *core.RequestEvent) error {
	var req recoverKeyRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	_, user, err := h.accountUser(req.AccountID)
	if err != nil {
		return err
	}
	recoveryAuth, err := authKey("recoveryAuth", req.RecoveryAuth)
	if err != nil {
		return err
	}
	acc, err := h.verifyAccount(e, user, "recovery", recoveryAuth)
	if err != nil {
		return err
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]string{"recoveryWrappedKey": acc.RecoveryWrappedKey})
}
