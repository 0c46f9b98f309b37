package routes

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type accountRequest struct {
	AccountID string `json:"accountId"`
}

// v2Prelogin handles POST /api/v2/prelogin: the account's KDF parameters,
// or for an unknown account a fake salt (the same every time, unpredictable
// without the pepper) with the server's current iterations, so that the
// answer does not tell which names are registered.
func (h *handlers) v2Prelogin(e *core.RequestEvent) error {
	var req accountRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	accountID, user, err := h.accountUser(req.AccountID)
	if err != nil {
		return err
	}
	kdf := kdfJSON{Name: kdfName, Iterations: int64(h.Config.KDFIterations),
		Salt: base64.StdEncoding.EncodeToString(h.Pepper.FakeSalt(accountID))}
	acc, err := h.Store.GetAccount(e.Request.Context(), user)
	switch {
	case err == nil:
		if kdf, err = storedKDF(acc.KDF); err != nil {
			return err
		}
	case !errors.Is(err, store.ErrNotFound):
		return storeError(e, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]kdfJSON{"kdf": kdf})
}
