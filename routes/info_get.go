package routes

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/hooks"
)

// infoGet handles GET /api/info: what a client needs to know before it
// talks to this server. Public; it reveals settings, never data.
func (h *handlers) infoGet(e *core.RequestEvent) error {
	c := h.Config
	return hooks.WriteJSON(e, http.StatusOK, map[string]any{
		"version":           Version,
		"maxBackupBytes":    c.MaxBackupBytes,
		"userQuotaBytes":    c.UserQuotaBytes,
		"historyDepth":      c.HistoryDepth,
		"registration":      c.Registration,
		"signatureRequired": len(c.HMACSecret) > 0,
		"limits": map[string]any{
			"ipBurst":             c.IPBurst,
			"ipRefillSeconds":     c.IPRefill.Seconds(),
			"registerPerHour":     c.RegisterPerHour,
			"newUsersPerIPPerDay": c.NewUsersPerIPPerDay,
			"savesPerHour":        c.SavesPerHour,
			"savesPerDay":         c.SavesPerDay,
			"maxBackupsPerUser":   c.MaxBackupsPerUser,
		},
		"serverTime": timestamp(h.Now()),
		"protocols":  []string{"v1", "v2"},
		"kdf": map[string]any{
			"name":          kdfName,
			"iterations":    c.KDFIterations,
			"minIterations": config.MinKDFIterations,
		},
	})
}
