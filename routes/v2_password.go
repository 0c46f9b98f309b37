package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type passwordRequest struct {
	Auth string       `json:"auth"`
	New  *newKeysJSON `json:"new"`
}

// v2Password handles POST /api/v2/password: a session and the current
// password's key set new key material (a password change, or the same
// password at more iterations); every session of the account ends and a
// new one starts, in one transaction.
func (h *handlers) v2Password(e *core.RequestEvent) error {
	var req passwordRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	auth, err := authKey("auth", req.Auth)
	if err != nil {
		return err
	}
	kdf, verifier, err := h.checkNewKeys(req.New)
	if err != nil {
		return err
	}
	user := sessionUser(e)
	acc, err := h.verifyAccount(e, user, "auth", auth)
	if err != nil {
		return err
	}
	now := h.Now()
	token, sess := h.newSession(user, now)
	err = h.Store.ChangeKeys(e.Request.Context(), store.KeyChange{User: user, Expect: acc.Verifier,
		Keys: store.AccountKeys{KDF: kdf, Verifier: verifier, WrappedKey: req.New.WrappedKey}, Session: sess, Now: now})
	if errors.Is(err, store.ErrNotFound) { // another change came first: this session is gone
		return hooks.Fail(http.StatusUnauthorized, signInAgain)
	}
	if err != nil {
		return storeError(e, err)
	}
	return writeSession(e, token, sess)
}
