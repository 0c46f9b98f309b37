package routes

import (
	"context"
	"net/http"
	"syscall"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

// healthGet handles GET /health: a real database round trip and enough free
// disk, else 503 with the reason.
func (h *handlers) healthGet(e *core.RequestEvent) error {
	ctx, cancel := context.WithTimeout(e.Request.Context(), 5*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		h.Logger().Warn("health check failed", "check", "database", "error", err.Error())
		return hooks.Fail(http.StatusServiceUnavailable, "The database is not reachable.")
	}
	if min := h.Config.MinFreeDiskBytes; min > 0 && h.DataDir != "" {
		free, err := h.freeDisk(h.DataDir)
		if err != nil || free < uint64(min) {
			return hooks.Fail(http.StatusServiceUnavailable, "The data directory's disk is (nearly) full.")
		}
	}
	return hooks.WriteJSON(e, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) freeDisk(path string) (uint64, error) {
	if h.FreeDisk != nil {
		return h.FreeDisk(path)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
