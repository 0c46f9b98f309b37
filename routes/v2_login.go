package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type loginRequest struct {
	AccountID string `json:"accountId"`
	Auth      string `json:"auth"`
}

type loginResponse struct {
	Token      string      `json:"token"`
	ExpiresAt  string      `json:"expiresAt"`
	WrappedKey string      `json:"wrappedKey"`
	KDFUpgrade *kdfUpgrade `json:"kdfUpgrade,omitempty"`
}

// kdfUpgrade asks the client to derive again with more iterations and
// change the password to the same one (docs/protocol-v2.md).
type kdfUpgrade struct {
	Iterations int `json:"iterations"`
}

// v2Login handles POST /api/v2/login. An unknown account and a wrong key
// get the same answer, and both pay the per-(address, account) budget of
// failed attempts, checked before any database work.
func (h *handlers) v2Login(e *core.RequestEvent) error {
	var req loginRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	_, user, err := h.accountUser(req.AccountID)
	if err != nil {
		return err
	}
	auth, err := authKey("auth", req.Auth)
	if err != nil {
		return err
	}
	acc, err := h.verifyAccount(e, user, "auth", auth)
	if err != nil {
		return err
	}
	now := h.Now()
	token, sess := h.newSession(user, now)
	if err := h.Store.CreateSession(e.Request.Context(), sess, now); err != nil {
		return h.signInFailed(e, user, err)
	}
	res := loginResponse{Token: token, ExpiresAt: timestamp(sess.Expires), WrappedKey: acc.WrappedKey}
	if k, err := storedKDF(acc.KDF); err != nil || k.Iterations < int64(h.Config.KDFIterations) {
		res.KDFUpgrade = &kdfUpgrade{h.Config.KDFIterations}
	}
	return hooks.WriteJSON(e, http.StatusOK, res)
}

// verifyAccount checks a key of user's account (kind "auth" or "recovery")
// under the failed-attempt budget: refused before any database work once
// spent, and spent by an unknown account or a wrong key alike.
func (h *handlers) verifyAccount(e *core.RequestEvent, user, kind, key string) (store.Account, error) {
	id := ids{user: user}
	if err := h.checkLookups(e, id); err != nil {
		return store.Account{}, err
	}
	acc, err := h.Store.GetAccount(e.Request.Context(), user)
	if err != nil {
		return store.Account{}, h.signInFailed(e, user, err)
	}
	stored := acc.Verifier
	if kind == "recovery" {
		stored = acc.RecoveryVerifier
	}
	if !sameVerifier(h.Pepper.Verifier(kind, key), stored) {
		h.failedAttempt(e, id)
		return store.Account{}, hooks.Fail(http.StatusUnauthorized, wrongLogin)
	}
	return acc, nil
}

// signInFailed answers a store error of a sign-in: an account that is not
// there (or went away meanwhile) is a failed attempt like a wrong key.
func (h *handlers) signInFailed(e *core.RequestEvent, user string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		h.failedAttempt(e, ids{user: user})
		return hooks.Fail(http.StatusUnauthorized, wrongLogin)
	}
	return storeError(e, err)
}
