package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type recoverRequest struct {
	AccountID    string        `json:"accountId"`
	RecoveryAuth string        `json:"recoveryAuth"`
	New          *newKeysJSON  `json:"new"`
	Recovery     *recoveryJSON `json:"recovery"`
}

// recoveryJSON is a new recovery code's material: the used code is
// replaced, so that a code works once.
type recoveryJSON struct {
	RecoveryAuth       string `json:"recoveryAuth"`
	RecoveryWrappedKey string `json:"recoveryWrappedKey"`
}

// v2Recover handles POST /api/v2/recover: the recovery code's key sets a
// new password and a new recovery code; every session ends and a new one
// starts. Failures answer and count as a failed login does.
func (h *handlers) v2Recover(e *core.RequestEvent) error {
	var req recoverRequest
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
	kdf, verifier, err := h.checkNewKeys(req.New)
	if err != nil {
		return err
	}
	if req.Recovery == nil {
		return hooks.Fail(http.StatusBadRequest, "recovery is missing.")
	}
	newRecovery, err := authKey("recovery.recoveryAuth", req.Recovery.RecoveryAuth)
	if err != nil {
		return err
	}
	if err := checkWrapped("recovery.recoveryWrappedKey", req.Recovery.RecoveryWrappedKey); err != nil {
		return err
	}
	acc, err := h.verifyAccount(e, user, "recovery", recoveryAuth)
	if err != nil {
		return err
	}
	now := h.Now()
	token, sess := h.newSession(user, now)
	err = h.Store.ChangeKeys(e.Request.Context(), store.KeyChange{User: user, Expect: acc.RecoveryVerifier, ByRecovery: true,
		Keys: store.AccountKeys{KDF: kdf, Verifier: verifier, WrappedKey: req.New.WrappedKey,
			RecoveryVerifier: h.Pepper.Verifier("recovery", newRecovery), RecoveryWrappedKey: req.Recovery.RecoveryWrappedKey},
		Session: sess, Now: now})
	if errors.Is(err, store.ErrNotFound) { // another recovery used the code first
		return hooks.Fail(http.StatusUnauthorized, wrongLogin)
	}
	if err != nil {
		return storeError(e, err)
	}
	return writeSession(e, token, sess)
}
