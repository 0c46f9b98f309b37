package server

import (
	"fmt"
	"log/slog"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// rateLimitDefaultsParam marks, in PocketBase's _params table, that the
// limiter was turned on once; from then on it is the operator's setting.
const rateLimitDefaultsParam = "dailyreps_rate_limit_defaults"

// applyRateLimitDefaults turns PocketBase's own rate limiter on, once per data
// directory. It is off by default in PocketBase, which leaves the dashboard's
// superuser login (/api/collections/_superusers/auth-with-password) open to
// about ten password guesses a second. Its default rules (among them *:auth
// at 2 per 3 s per address) cover PocketBase's routes; the API's own routes
// have limits of their own and are not subject to it. The setting lives in
// the database, so an operator can still change or turn it off in the
// dashboard (Settings > Application > Rate limiting) and a restart keeps that.
func applyRateLimitDefaults(app core.App, logger func() *slog.Logger) error {
	var marked int
	err := app.DB().Select("COUNT(*)").From("_params").Where(dbx.HashExp{"id": rateLimitDefaultsParam}).Row(&marked)
	if err != nil || marked > 0 {
		return err
	}
	err = app.RunInTransaction(func(tx core.App) error {
		settings, err := tx.Settings().Clone()
		if err != nil {
			return err
		}
		if !settings.RateLimits.Enabled {
			settings.RateLimits.Enabled = true
			if len(settings.RateLimits.Rules) == 0 {
				settings.RateLimits.Rules = []core.RateLimitRule{{Label: "*:auth", MaxRequests: 2, Duration: 3}}
			}
			if err := tx.Save(settings); err != nil {
				return err
			}
		}
		marker := &core.Param{Value: types.JSONRaw(`{"applied":true}`)}
		marker.Id = rateLimitDefaultsParam
		return tx.Save(marker)
	})
	if err != nil {
		return fmt.Errorf("turning on the rate limiter: %w", err)
	}
	logger().Info("PocketBase's rate limiter is on (dashboard login and other PocketBase routes; " +
		"change it in the dashboard: Settings > Application > Rate limiting)")
	return nil
}
