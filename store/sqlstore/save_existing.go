package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/dailyreps/backup/store"
)

// movedOn is the message of the dialect's SaveExisting when the backup
// changed under it, which the user's row lock rules out; the save then takes
// the long way, whose transaction answers it properly.
const movedOn = "backup moved on during the save"

// saveExisting runs the dialect's SaveExisting: a save of an existing
// backup as one statement. done is false when the save needs SaveBackup's
// transaction instead (a new backup), with nothing written.
func (s *Store) saveExisting(ctx context.Context, req store.SaveRequest) (out store.SaveResult, done bool, err error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	l := req.Limits
	p := dbx.Params{"user": req.User, "key": req.Key, "ifMatch": req.IfMatch, "version": req.Version,
		"size": int64(len(req.Data)), "at": ms(req.Now), "data": req.Data, "depth": l.HistoryDepth,
		"quota": l.QuotaBytes, "now": s.d.TimeArg(req.Now), "bucket": saveBucket(req),
		"perHour": l.PerHour, "perDay": l.PerDay}
	var outcome string
	var next, pruned, current, oldest int64
	for range txAttempts {
		err = s.writeRow(ctx, s.d.SaveExisting, p, &outcome, &next, &pruned, &current, &oldest)
		if err == nil || s.d.Retry == nil || !s.d.Retry(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if strings.Contains(err.Error(), movedOn) {
			return out, false, nil
		}
		return out, true, s.fail(err)
	}
	switch outcome {
	case "saved":
		return store.SaveResult{Version: next, Pruned: pruned, UpdatedAt: req.Now.UTC()}, true, nil
	case "new":
		return out, false, nil
	case "no_user":
		return out, true, store.ErrNotFound
	case "stale":
		return out, true, &store.StaleError{Current: current}
	case "quota":
		return out, true, store.ErrQuota
	case "hour":
		return out, true, saveLimit("saves per hour", time.Hour, oldest, req.Now)
	case "day":
		return out, true, saveLimit("saves per day", 24*time.Hour, oldest, req.Now)
	}
	return out, true, s.fail(&unknownOutcome{outcome})
}

// saveLimit is refuseOverLimit's answer for a window whose oldest hit is at
// oldestMS.
func saveLimit(reason string, window time.Duration, oldestMS int64, now time.Time) error {
	retry := fromMS(oldestMS).Add(window).Sub(now)
	if retry < time.Second {
		retry = time.Second
	}
	return &store.LimitError{Reason: reason, RetryAfter: retry}
}

type unknownOutcome struct{ outcome string }

func (u *unknownOutcome) Error() string { return "save: unknown outcome " + u.outcome }
