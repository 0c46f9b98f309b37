package routes

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type upgradeRequest struct {
	UserID             string   `json:"userId"`
	StorageKey         string   `json:"storageKey"`
	BackupID           string   `json:"backupId"`
	KDF                *kdfJSON `json:"kdf"`
	Auth               string   `json:"auth"`
	WrappedKey         string   `json:"wrappedKey"`
	RecoveryAuth       string   `json:"recoveryAuth"`
	RecoveryWrappedKey string   `json:"recoveryWrappedKey"`
	WrappedLegacyKey   string   `json:"wrappedLegacyKey"`
}

// v2Upgrade handles POST /api/v2/upgrade: the v1 backup the storageKey
// proves moves, with every version, into the user's account (created with
// the new-account members, or an existing one whose auth they carry), and
// the v1 key is retired, in one transaction. Repeating it with the same
// material answers 200, so an upgrade whose answer was lost can be resumed.
func (h *handlers) v2Upgrade(e *core.RequestEvent) error {
	var req upgradeRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	id, err := h.pepperIDs(req.UserID, req.StorageKey)
	if err != nil {
		return err
	}
	if !isBackupID(req.BackupID) {
		return hooks.Fail(http.StatusBadRequest, "backupId must be 32 lowercase hex characters.")
	}
	now := h.Now()
	acc, err := h.newAccount(id.user, req.KDF, req.Auth, req.WrappedKey, req.RecoveryAuth, req.RecoveryWrappedKey, now)
	if err != nil {
		return err
	}
	if err := checkWrapped("wrappedLegacyKey", req.WrappedLegacyKey); err != nil {
		return err
	}
	if err := h.checkLookups(e, id); err != nil {
		return err
	}
	token, sess := h.newSession(id.user, now)
	err = h.Store.UpgradeV1(e.Request.Context(), store.Upgrade{V1Key: id.key, Key: h.Pepper.Backup(req.BackupID),
		Name: req.BackupID, LegacyKey: req.WrappedLegacyKey, Account: acc, Session: sess, Now: now})
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.failedAttempt(e, id)
		return storeError(e, err)
	case errors.Is(err, store.ErrExists):
		// The account's auth was not the one sent: a guess at it.
		h.failedAttempt(e, id)
		return hooks.Fail(http.StatusConflict, "This username already has a protocol v2 account: sign in to it, then upgrade with its password.")
	case err != nil:
		return storeError(e, err)
	}
	return writeSession(e, token, sess)
}
