package routes

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type registerRequest struct {
	UserID string `json:"userId"`
}

// userRegister handles POST /api/register.
func (h *handlers) userRegister(e *core.RequestEvent) error {
	var req registerRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	id, err := h.pepperIDs(req.UserID, "-")
	if err != nil {
		return err
	}
	now := h.Now()
	switch h.Config.Registration {
	case config.RegistrationClosed:
		return hooks.Fail(http.StatusForbidden, "Registration is closed on this server.")
	case config.RegistrationInvite:
		code := e.Request.Header.Get("X-Invite-Code")
		if code == "" {
			return hooks.Fail(http.StatusForbidden, "Registration on this server needs an invite code (X-Invite-Code).")
		}
		err = h.Store.UseInvite(e.Request.Context(), InviteHash(code), id.user, now)
		if errors.Is(err, store.ErrNotFound) {
			return hooks.Fail(http.StatusForbidden, "The invite code is unknown, expired or already used.")
		}
	default:
		// Counted in the database, so that the cap holds across restarts
		// and instances. Invites need no cap: they already bound who gets in.
		// Only a registration that creates a user counts: a taken name
		// (409) spends nothing.
		bucket := h.Pepper.Bucket("newusers", hooks.ClientIP(e))
		err = h.Store.RegisterCounted(e.Request.Context(), id.user, bucket, 24*time.Hour, h.Config.NewUsersPerIPPerDay, now)
		var le *store.LimitError
		if errors.As(err, &le) {
			return hooks.TooMany(e, le.RetryAfter, "Too many new users from this address today.")
		}
	}
	if err != nil {
		return storeError(e, err)
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]bool{"success": true})
}

// InviteHash is how invite codes are stored: random codes need no pepper.
// Codes are read back from paper and chat messages, so case, dashes and
// spaces do not count.
func InviteHash(code string) string {
	h := sha256.Sum256([]byte(inviteSpacing.Replace(strings.ToUpper(code))))
	return hex.EncodeToString(h[:])
}

var inviteSpacing = strings.NewReplacer("-", "", " ", "")
