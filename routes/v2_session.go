package routes

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

// signInAgain is the answer to a request without a live session.
const signInAgain = "Sign in again."

// Keys of the session's account and peppered token in the request event.
const (
	keySessionUser  = "dr.sessionUser"
	keySessionToken = "dr.sessionToken"
)

// prioritySession runs the session lookup after the address's bucket, the
// body's cap and the signature: no database work before them.
const prioritySession = hooks.PrioritySignature + 10

// session requires Authorization: Bearer <token> naming a live session and
// leaves its account for the handler (sessionUser).
func (h *handlers) session() *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       "drSession",
		Priority: prioritySession,
		Func: func(e *core.RequestEvent) error {
			token, ok := bearer(e.Request.Header.Get("Authorization"))
			if !ok {
				return hooks.Fail(http.StatusUnauthorized, signInAgain)
			}
			peppered := h.Pepper.Session(token)
			user, err := h.Store.SessionUser(e.Request.Context(), peppered, h.Now())
			if errors.Is(err, store.ErrNotFound) {
				return hooks.Fail(http.StatusUnauthorized, signInAgain)
			}
			if err != nil {
				return storeError(e, err)
			}
			e.Set(keySessionUser, user)
			e.Set(keySessionToken, peppered)
			return e.Next()
		},
	}
}

// bearer reads a session token from an Authorization value. Only the exact
// shape a token has is looked up: anything else cannot name a session.
func bearer(v string) (string, bool) {
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) != tokenLen {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil {
		return "", false
	}
	return token, true
}

// sessionUser is the peppered account of the request's session.
func sessionUser(e *core.RequestEvent) string {
	s, _ := e.Get(keySessionUser).(string)
	return s
}

// sessionToken is the request's session token, peppered.
func sessionToken(e *core.RequestEvent) string {
	s, _ := e.Get(keySessionToken).(string)
	return s
}

// newSession draws a session of user starting now.
func (h *handlers) newSession(user string, now time.Time) (token string, s store.Session) {
	token = newToken()
	return token, store.Session{Token: h.Pepper.Session(token), User: user, Expires: now.Add(h.Config.SessionLifetime)}
}

type sessionResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
}

func writeSession(e *core.RequestEvent, token string, s store.Session) error {
	return hooks.WriteJSON(e, http.StatusOK, sessionResponse{token, timestamp(s.Expires)})
}
