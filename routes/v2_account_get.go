package routes

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type v2AccountResponse struct {
	usageJSON
	Events []eventJSON `json:"events"`
}

// v2AccountGet handles GET /api/v2/account: the account's storage, history
// included, and its activity: every backup's saves, restores and dropped
// versions and the account's failed sign-ins, newest first, to the minute.
func (h *handlers) v2AccountGet(e *core.RequestEvent) error {
	if _, err := query(e); err != nil {
		return err
	}
	ctx, user := e.Request.Context(), sessionUser(e)
	u, err := h.Store.AccountUsage(ctx, user)
	if err != nil {
		return storeError(e, err)
	}
	events, err := h.Store.Activity(ctx, user, "") // the account-wide ones: failed attempts
	if err != nil {
		return storeError(e, err)
	}
	backups, err := h.Store.ListBackups(ctx, user)
	if err != nil {
		return storeError(e, err)
	}
	for _, b := range backups {
		evs, err := h.Store.Activity(ctx, user, h.Pepper.Backup(b.Name))
		if err != nil {
			return v2NotFound(e, err)
		}
		for _, ev := range evs {
			if ev.Kind != store.EventFailedAttempt { // listed with every backup: once is enough
				events = append(events, ev)
			}
		}
	}
	return hooks.WriteJSON(e, http.StatusOK, v2AccountResponse{
		usageJSON{u.BytesUsed, h.Config.UserQuotaBytes, u.Backups, u.Versions}, mergeEvents(events)})
}

// mergeEvents sorts events newest first and adds up those of one kind in
// one minute (several backups saved in the same minute).
func mergeEvents(evs []store.Event) []eventJSON {
	slices.SortStableFunc(evs, func(a, b store.Event) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.Kind, b.Kind))
	})
	out := []eventJSON{}
	for _, ev := range evs {
		at := ev.At.UTC().Format(time.RFC3339)
		if n := len(out); n > 0 && out[n-1].Type == ev.Kind && out[n-1].At == at {
			out[n-1].Count += ev.Count
			continue
		}
		out = append(out, eventJSON{ev.Kind, at, ev.Count})
	}
	return out
}
