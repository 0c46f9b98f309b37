package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
	"github.com/dailyreps/backup/store"
)

type v2SaveRequest struct {
	Version int64  `json:"version"`
	Data    inBody `json:"data"`
}

func (r *v2SaveRequest) bind(body []byte) { r.Data.bind(body) }

type v2SaveResponse struct {
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updatedAt"`
}

// v2BackupPut handles PUT /api/v2/backups/{id}: version N of the backup,
// which must be the newest + 1 (the client bound N into the ciphertext).
// Limits are the account's: only its sessions reach it, so the v1
// per-address backup slots do not apply.
func (h *handlers) v2BackupPut(e *core.RequestEvent) error {
	name, key, err := h.backupKey(e)
	if err != nil {
		return err
	}
	var req v2SaveRequest
	if err := decodeBody(e, &req); err != nil {
		return err
	}
	if req.Version < 1 {
		return hooks.Fail(http.StatusBadRequest, "version must be a positive whole number: the newest version + 1.")
	}
	if err := checkV2Data(req.Data.String(), h.Config.MaxBackupBytes); err != nil {
		return err
	}
	c, user := h.Config, sessionUser(e)
	sr := store.SaveRequest{
		User: user, Key: key, Name: name, Version: req.Version, Data: req.Data.String(), Now: h.Now(),
		Limits: store.SaveLimits{PerHour: c.SavesPerHour, PerDay: c.SavesPerDay, MaxBackupsPerUser: c.MaxBackupsPerUser,
			QuotaBytes: c.UserQuotaBytes, HistoryDepth: c.HistoryDepth},
		Creator: creatorTag(h.Pepper.Bucket("creator", hooks.ClientIP(e))),
	}
	replay := hooks.ReplayOf(e)
	if replay != nil {
		sr.Nonce, sr.NonceExpires = replay.Nonce, replay.Expires
	}
	res, err := h.Store.SaveBackup(e.Request.Context(), sr)
	if err != nil {
		return storeError(e, err)
	}
	replay.Recorded()
	h.Events.Record(user, key, store.EventSaved, res.UpdatedAt)
	for range res.Pruned {
		h.Events.Record(user, key, store.EventDeletedVersion, res.UpdatedAt)
	}
	e.Response.Header().Set("ETag", etag(res.Version))
	return hooks.WriteJSON(e, http.StatusOK, v2SaveResponse{res.Version, timestamp(res.UpdatedAt)})
}
