package routes

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type saveRequest struct {
	UserID     string `json:"userId"`
	StorageKey string `json:"storageKey"`
	Data       inBody `json:"data"`
}

func (r *saveRequest) bind(body []byte) { r.Data.bind(body) }

// backupSave handles POST /api/backup: an upsert keyed by storageKey,
// optionally conditional on If-Match.
func (h *handlers) backupSave(e *core.RequestEvent) error {
	var req saveRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	id, err := h.pepperIDs(req.UserID, req.StorageKey)
	if err != nil {
		return err
	}
	if err := checkData(req.Data.String(), h.Config.MaxBackupBytes); err != nil {
		return err
	}
	var ifMatch int64
	if v := e.Request.Header.Get("If-Match"); v != "" {
		var ok bool
		if ifMatch, ok = etagVersion(v); !ok {
			return hooks.Fail(http.StatusBadRequest, `If-Match must be a version ETag such as "3".`)
		}
	}
	// A save is also a way to test a guessed key (a new key is refused once
	// the user is full), so it answers to the same failed-lookup budget as a
	// restore.
	if err := h.checkLookups(e, id); err != nil {
		return err
	}
	c := h.Config
	sr := store.SaveRequest{
		User: id.user, Key: id.key, Data: req.Data.String(), IfMatch: ifMatch, Now: h.Now(),
		Limits: store.SaveLimits{PerHour: c.SavesPerHour, PerDay: c.SavesPerDay, MaxBackupsPerUser: c.MaxBackupsPerUser,
			MaxBackupsPerAddress: c.MaxBackupsPerIP, QuotaBytes: c.UserQuotaBytes, HistoryDepth: c.HistoryDepth},
		Creator: creatorTag(h.Pepper.Bucket("creator", hooks.ClientIP(e))),
	}
	replay := hooks.ReplayOf(e) // a signed save's replay record, written with the save
	if replay != nil {
		sr.Nonce, sr.NonceExpires = replay.Nonce, replay.Expires
	}
	res, err := h.Store.SaveBackup(e.Request.Context(), sr)
	if err != nil {
		if h.provesNothing(e, id, err) {
			h.failedAttempt(e, id)
		}
		return storeError(e, err)
	}
	replay.Recorded()
	if res.Version == 1 && h.hasOtherBackups(e, id) {
		// A new backup beside others: its key proved nothing, and version 1
		// (where the right key gets the next version) tells a guess it
		// missed. A user's first backup is no guess at anything.
		h.failedLookups.Allow(lookupKey(e, id))
	}
	h.Events.Record(id.user, id.key, store.EventSaved, res.UpdatedAt)
	// The owner sees history leave as well as arrive: a version the depth
	// limit dropped can no longer be restored.
	for range res.Pruned {
		h.Events.Record(id.user, id.key, store.EventDeletedVersion, res.UpdatedAt)
	}
	e.Response.Header().Set("ETag", etag(res.Version))
	return hooks.WriteJSON(e, http.StatusOK, saveResponse{true, timestamp(res.UpdatedAt), res.Version})
}

// hasOtherBackups reports whether id's user holds a backup besides id's.
func (h *handlers) hasOtherBackups(e *core.RequestEvent, id ids) bool {
	u, err := h.Store.Usage(e.Request.Context(), id.user, id.key)
	return err != nil || u.Backups > 1
}

// provesNothing reports a save refused in a way that tells a key without a
// backup from one with: a user (or an address) full of backups, a stale
// If-Match with no version to name (412 without ETag), or a quota that
// judged the save as a new backup.
func (h *handlers) provesNothing(e *core.RequestEvent, id ids, err error) bool {
	var le *store.LimitError
	var se *store.StaleError
	switch {
	case errors.As(err, &le):
		return le.Reason == store.ReasonBackupsPerUser || le.Reason == store.ReasonBackupsPerAddress
	case errors.As(err, &se):
		return se.Current == 0
	case errors.Is(err, store.ErrQuota):
		return !h.backupExists(e, id)
	}
	return false
}

// creatorTagLen is how many hex digits of the address's keyed hash a backup
// keeps: 24 bits. Without the pepper the tag says nothing; with it, each tag
// still matches about 256 IPv4 addresses and far more IPv6 /64s, while two
// addresses of one user's handful of backups collide about once in 16
// million (and a collision only merges their two shares).
const creatorTagLen = 6

// creatorTag truncates a pepper.Bucket value ("kind:hex") to its tag.
func creatorTag(bucket string) string {
	_, h, _ := strings.Cut(bucket, ":")
	return h[:min(len(h), creatorTagLen)]
}

type saveResponse struct {
	Success   bool   `json:"success"`
	UpdatedAt string `json:"updatedAt"`
	Version   int64  `json:"version"`
}

// timestamp renders times as RFC 3339 UTC with milliseconds, as JavaScript's
// Date.toISOString does.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
