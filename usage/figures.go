package usage

import (
	"slices"
	"strings"

	"github.com/dailyreps/backup/store"
)

// MinUsers is the smallest set of users a figure may be drawn from. With
// fewer, a figure would describe one user or a handful (the one user of a
// family server, the only one active today), so it is withheld: null in the
// dashboard, left out of /metrics. Counts of users, backups and versions are
// always shown: they are the sizes of those sets, not facts about a member.
//
// Which set each figure is drawn from:
//   - active users: the registered users;
//   - stored bytes, average and largest backup: the users holding backups;
//   - the day's saves, restores and refusals: the users active in the last day;
//   - the day's failed attempts: the registered users (whoever made them,
//     they were made against one of these).
const MinUsers = 5

// Figure is one usage figure: a row of the dashboard's stats collection and
// a sample of /metrics.
type Figure struct {
	ID                string // the row's id in the dashboard
	Metric            string // the Prometheus gauge; "": the dashboard's only
	Label, LabelValue string // at most one label, from a fixed set
	Help              string
	Value             float64
	Withheld          bool // drawn from fewer than MinUsers users
}

// Figures computes the usage figures from the store's totals.
func Figures(st store.Stats) []Figure {
	var out []Figure
	add := func(id, metric, label, labelValue, help string, v float64, population int64) {
		out = append(out, Figure{ID: id, Metric: metric, Label: label, LabelValue: labelValue, Help: help,
			Value: v, Withheld: population >= 0 && population < MinUsers})
	}
	const always = -1
	add("users_registered", "dailyreps_users", "", "", "Registered users.", float64(st.Users), always)
	add("accounts", "dailyreps_accounts", "", "", "Users with a protocol v2 account.", float64(st.Accounts), always)
	for _, w := range []struct {
		window string
		n      int64
	}{{"1d", st.Active1d}, {"7d", st.Active7d}, {"30d", st.Active30d}} {
		add("users_active_"+w.window, "dailyreps_active_users", "window", w.window,
			"Users who saved or restored in the window.", float64(w.n), st.Users)
	}
	add("backups", "dailyreps_backups", "", "", "Stored backups (one per storage key).", float64(st.Backups), always)
	add("versions", "dailyreps_backup_versions", "", "", "Stored versions, the newest of each backup included.",
		float64(st.Versions), always)
	add("stored_bytes", "dailyreps_stored_bytes", "", "", "Bytes of backup data stored, history included.",
		float64(st.StoredBytes), st.UsersWithBackups)
	add("stored_bytes_newest", "dailyreps_stored_newest_bytes", "", "", "Bytes of the newest version of every backup.",
		float64(st.NewestBytes), st.UsersWithBackups)
	add("stored_bytes_history", "dailyreps_stored_history_bytes", "", "", "Bytes of the versions kept as history.",
		float64(st.HistoryBytes), st.UsersWithBackups)
	avg := 0.0
	if st.Backups > 0 {
		avg = float64(st.NewestBytes) / float64(st.Backups)
	}
	add("backup_size_average", "dailyreps_backup_size_average_bytes", "", "", "Average size of a backup's newest version.",
		avg, st.UsersWithBackups)
	add("backup_size_largest", "dailyreps_backup_size_largest_bytes", "", "", "Size of the largest backup's newest version.",
		float64(st.LargestBackup), st.UsersWithBackups)

	today := st.Today
	for _, k := range []struct{ kind, ok, failed, refused string }{
		{"save", SaveOK, SaveError, SaveRefused}, {"restore", RestoreOK, RestoreError, RestoreRefused},
	} {
		refusals, reasons := int64(0), []string{}
		for name, n := range today {
			if reason, ok := reasonOf(name, k.refused); ok {
				refusals += n
				reasons = append(reasons, reason)
			}
		}
		slices.Sort(reasons)
		metric := "dailyreps_" + k.kind + "s_today"
		help := "Today's (UTC) " + k.kind + "s by outcome, all instances together."
		total := today[k.ok] + today[k.failed] + refusals
		// The sum of the outcomes, for the dashboard only: in /metrics it
		// would count every request twice under one name.
		add(k.kind+"s_today", "", "", "", "Today's (UTC) "+k.kind+"s, all instances together.", float64(total), st.Active1d)
		add(k.kind+"s_today_succeeded", metric, "outcome", "succeeded", help, float64(today[k.ok]), st.Active1d)
		add(k.kind+"s_today_refused", metric, "outcome", "refused", help, float64(refusals), st.Active1d)
		add(k.kind+"s_today_failed", metric, "outcome", "failed", help, float64(today[k.failed]), st.Active1d)
		rate := Figure{ID: k.kind + "_success_rate_today", Metric: "dailyreps_" + k.kind + "_success_ratio_today",
			Help:     "Share of today's " + k.kind + "s that succeeded (0 to 1); absent before the first.",
			Withheld: total == 0 || st.Active1d < MinUsers}
		if total > 0 {
			rate.Value = float64(today[k.ok]) / float64(total)
		}
		out = append(out, rate)
		for _, reason := range reasons {
			add(k.kind+"s_today_refused_"+reason, "dailyreps_"+k.kind+"_refusals_today", "reason", reason,
				"Today's refused "+k.kind+"s by reason.", float64(today[k.refused+reason]), st.Active1d)
		}
	}
	add("failed_attempts_today", "dailyreps_failed_attempts_today", "", "",
		"Today's lookups that proved nothing (wrong password or unknown user).", float64(today[FailedAttempt]), st.Users)
	return out
}

// Describe is a line for the dashboard: what the figure is, and why it is
// empty when it is withheld.
func (f Figure) Describe() string {
	help := strings.TrimSuffix(f.Help, ".")
	if f.Label != "" && f.Label != "outcome" {
		help += " (" + f.Label + " " + f.LabelValue + ")"
	}
	if f.Withheld {
		help += "; withheld: drawn from fewer than 5 users, or nothing yet"
	}
	return help + "."
}
