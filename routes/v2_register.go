package routes

import (
	"errors"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type v2RegisterRequest struct {
	AccountID          string   `json:"accountId"`
	KDF                *kdfJSON `json:"kdf"`
	Auth               string   `json:"auth"`
	WrappedKey         string   `json:"wrappedKey"`
	RecoveryAuth       string   `json:"recoveryAuth"`
	RecoveryWrappedKey string   `json:"recoveryWrappedKey"`
}

// newAccount validates the new-account members and builds the account of user.
func (h *handlers) newAccount(user string, kdf *kdfJSON, auth, wrappedKey, recoveryAuth, recoveryWrappedKey string, now time.Time) (store.Account, error) {
	k, err := checkKDF("kdf", kdf)
	if err != nil {
		return store.Account{}, err
	}
	if auth, err = authKey("auth", auth); err != nil {
		return store.Account{}, err
	}
	if err := checkWrapped("wrappedKey", wrappedKey); err != nil {
		return store.Account{}, err
	}
	if recoveryAuth, err = authKey("recoveryAuth", recoveryAuth); err != nil {
		return store.Account{}, err
	}
	if err := checkWrapped("recoveryWrappedKey", recoveryWrappedKey); err != nil {
		return store.Account{}, err
	}
	return store.Account{User: user, KDF: k, Verifier: h.Pepper.Verifier("auth", auth),
		RecoveryVerifier: h.Pepper.Verifier("recovery", recoveryAuth),
		WrappedKey:       wrappedKey, RecoveryWrappedKey: recoveryWrappedKey, Created: now, Updated: now}, nil
}

// v2Register handles POST /api/v2/register: a new account and its first
// session, under the same registration rules and per-address budget as v1.
func (h *handlers) v2Register(e *core.RequestEvent) error {
	var req v2RegisterRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	_, user, err := h.accountUser(req.AccountID)
	if err != nil {
		return err
	}
	now := h.Now()
	acc, err := h.newAccount(user, req.KDF, req.Auth, req.WrappedKey, req.RecoveryAuth, req.RecoveryWrappedKey, now)
	if err != nil {
		return err
	}
	token, sess := h.newSession(user, now)
	na := store.NewAccount{Account: acc, Session: sess, Now: now}
	switch h.Config.Registration {
	case config.RegistrationClosed:
		return hooks.Fail(http.StatusForbidden, "Registration is closed on this server.")
	case config.RegistrationInvite:
		code := e.Request.Header.Get("X-Invite-Code")
		if code == "" {
			return hooks.Fail(http.StatusForbidden, "Registration on this server needs an invite code (X-Invite-Code).")
		}
		na.Invite = InviteHash(code)
	default:
		na.Limit = store.HitLimit{Bucket: h.Pepper.Bucket("newusers", hooks.ClientIP(e)), Window: 24 * time.Hour,
			Max: h.Config.NewUsersPerIPPerDay}
	}
	err = h.Store.CreateAccount(e.Request.Context(), na)
	var le *store.LimitError
	switch {
	case errors.As(err, &le):
		return hooks.TooMany(e, le.RetryAfter, "Too many new users from this address today.")
	case na.Invite != "" && errors.Is(err, store.ErrNotFound):
		return hooks.Fail(http.StatusForbidden, "The invite code is unknown, expired or already used.")
	case err != nil:
		return storeError(e, err)
	}
	return writeSession(e, token, sess)
}
