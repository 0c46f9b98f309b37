package routes

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

type eventJSON struct {
	Type  string `json:"type"`
	At    string `json:"at"`
	Count int64  `json:"count"`
}

// backupActivity handles GET /api/backup/activity: the backup's last events,
// newest first, to the minute and without addresses.
func (h *handlers) backupActivity(e *core.RequestEvent) error {
	id, _, err := h.readIDs(e)
	if err != nil {
		return err
	}
	evs, err := h.Store.Activity(e.Request.Context(), id.user, id.key)
	if err != nil {
		return h.lookupFailed(e, id, err)
	}
	out := make([]eventJSON, len(evs))
	for i, ev := range evs {
		out[i] = eventJSON{ev.Kind, ev.At.UTC().Format(time.RFC3339), ev.Count}
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]any{"events": out})
}
