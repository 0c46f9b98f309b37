package server_test

import (
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
)

// autoBackupJob is the id PocketBase gives its scheduled-backup cron job.
const autoBackupJob = "__pbAutoBackup__"

func scheduled(s *servertest.Server) string {
	for _, j := range s.App.Cron().Jobs() {
		if j.Id() == autoBackupJob {
			return j.Expression()
		}
	}
	return ""
}

// The first serve turns scheduled backups on; from then on the schedule is
// the operator's, even when they turn it off.
func TestScheduledBackupsOnByDefault(t *testing.T) {
	s := servertest.New(t)
	b := s.App.Settings().Backups
	if b.Cron != server.DefaultBackupCron || b.CronMaxKeep != server.DefaultBackupMaxKeep {
		t.Fatalf("backup settings after the first serve: cron %q, keep %d", b.Cron, b.CronMaxKeep)
	}
	if got := scheduled(s); got != server.DefaultBackupCron {
		t.Fatalf("the backup job is scheduled at %q", got)
	}

	// The operator turns them off in the dashboard; a restart keeps them off.
	settings, err := s.App.Settings().Clone()
	if err != nil {
		t.Fatal(err)
	}
	settings.Backups.Cron = ""
	if err := s.App.Save(settings); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2 := restart(t, s)
	if b := s2.App.Settings().Backups; b.Cron != "" {
		t.Fatalf("a restart turned backups back on: %q", b.Cron)
	}
	if got := scheduled(s2); got != "" {
		t.Fatalf("the backup job is scheduled at %q after being turned off", got)
	}
}

// A data directory whose operator set a schedule before this default existed
// keeps that schedule.
func TestScheduledBackupsKeepTheOperatorsSchedule(t *testing.T) {
	s := servertest.New(t)
	// As on a data directory from before the default: no marker, and the
	// operator's own schedule.
	if _, err := s.App.DB().NewQuery(`DELETE FROM _params WHERE id = 'dailyreps_backup_defaults'`).Execute(); err != nil {
		t.Fatal(err)
	}
	settings, err := s.App.Settings().Clone()
	if err != nil {
		t.Fatal(err)
	}
	settings.Backups.Cron, settings.Backups.CronMaxKeep = "30 2 * * 0", 2
	if err := s.App.Save(settings); err != nil {
		t.Fatal(err)
	}
	s.Stop()

	s2 := restart(t, s)
	if b := s2.App.Settings().Backups; b.Cron != "30 2 * * 0" || b.CronMaxKeep != 2 {
		t.Fatalf("the operator's schedule was replaced: cron %q, keep %d", b.Cron, b.CronMaxKeep)
	}
	var marked int
	if err := s2.App.DB().NewQuery(`SELECT COUNT(*) FROM _params WHERE id = 'dailyreps_backup_defaults'`).Row(&marked); err != nil || marked != 1 {
		t.Fatalf("marker rows = %d, %v", marked, err)
	}
}

func restart(t *testing.T, s *servertest.Server) *servertest.Server {
	t.Helper()
	db := s.Config.DatabaseURL
	return servertest.New(t, servertest.WithDataDir(s.App.DataDir()),
		servertest.WithConfig(func(c *config.Config) { c.DatabaseURL = db }))
}
