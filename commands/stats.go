package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/store"
)

// statsReport is what `stats` prints; its JSON form is for scripts and
// monitoring, so its field names are part of the interface.
type statsReport struct {
	Backend     string `json:"backend"`  // "sqlite" or "postgres"
	Database    string `json:"database"` // where: a file, or host/dbname (never credentials)
	Users       int64  `json:"users"`
	Backups     int64  `json:"backups"`
	Versions    int64  `json:"versions"`    // newest versions and history together
	StoredBytes int64  `json:"storedBytes"` // of every version's data, as the quotas count it
}

// newStatsCommand is `stats`: totals for operators, whichever backend is
// configured. The dashboard shows the SQLite collections, but not data kept
// in PostgreSQL.
func newStatsCommand(app core.App, cfg config.Config) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print how many users, backups and versions are stored, and their size",
		Long: "Prints totals of the configured backend: SQLite in the data directory, or PostgreSQL when\n" +
			"DAILYREPS_DATABASE_URL is set. Safe to run beside a serving instance.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			report, err := collectStats(cmd.Context(), app, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStatsJSON(cmd.OutOrStdout(), report)
			}
			return writeStatsText(cmd.OutOrStdout(), report)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	return cmd
}

func collectStats(ctx context.Context, app core.App, cfg config.Config) (statsReport, error) {
	st, _, err := openStore(ctx, app, cfg)
	if err != nil {
		return statsReport{}, err
	}
	defer st.Close()
	totals, err := st.Stats(ctx, time.Now())
	if err != nil {
		return statsReport{}, fmt.Errorf("read totals: %w", err)
	}
	return newStatsReport(app, cfg, totals), nil
}

func newStatsReport(app core.App, cfg config.Config, t store.Stats) statsReport {
	r := statsReport{Backend: "sqlite", Database: filepath.Join(app.DataDir(), "data.db"),
		Users: t.Users, Backups: t.Backups, Versions: t.Versions, StoredBytes: t.StoredBytes}
	if cfg.DatabaseURL != "" {
		r.Backend, r.Database = "postgres", postgresLocation(cfg.DatabaseURL)
	}
	return r
}

// postgresLocation names the hosts and database of a postgres:// URL and
// nothing else. It reads the URL by hand, because net/url refuses the
// multi-host form libpq allows, and keeps only what follows the last '@'
// and precedes the '?', so neither the credentials (escaped or not) nor the
// parameters (which may hold key passwords) reach the output.
func postgresLocation(dsn string) string {
	_, rest, _ := strings.Cut(dsn, "://")
	rest, _, _ = strings.Cut(rest, "?")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	host, db, _ := strings.Cut(rest, "/")
	if host == "" {
		host = "(default host)"
	}
	if db == "" {
		db = "(default database)"
	}
	return host + "/" + db
}

func writeStatsJSON(w io.Writer, r statsReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func writeStatsText(w io.Writer, r statsReport) error {
	backend := "SQLite"
	if r.Backend == "postgres" {
		backend = "PostgreSQL"
	}
	_, err := fmt.Fprintf(w, "Backend:   %s (%s)\nUsers:     %d\nBackups:   %d\nVersions:  %d (newest and history)\nStored:    %s\n",
		backend, r.Database, r.Users, r.Backups, r.Versions, formatBytes(r.StoredBytes))
	return err
}

// formatBytes renders n in binary units, with the exact count beside it
// when rounding hides it.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}
