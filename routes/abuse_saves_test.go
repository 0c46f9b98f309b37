package routes_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// saveLimits turns the per-backup save limits back on at their defaults.
func saveLimits(c *config.Config) {
	d := config.Default()
	c.SavesPerHour, c.SavesPerDay = d.SavesPerHour, d.SavesPerDay
}

func TestSixthSaveInAnHourRefused(t *testing.T) {
	s := newServer(t, saveLimits)
	u, k, other := id("hourly"), id("hourly-key"), id("hourly-other")
	register(t, s, u)
	for i := range 5 {
		save(t, s, u, k, envelope(32, byte('a'+i)))
		s.Clock.Advance(10 * time.Minute)
	}
	// 50 minutes after the first save: the first leaves the hour in 10.
	before := s.Snapshot()
	expectTooMany(t, s.Do(saveReq(u, k, envelope(32, 'z'))), 600)
	s.Unchanged(before)

	// A refusal is not counted: asking again changes nothing.
	s.Clock.Advance(5 * time.Minute)
	expectTooMany(t, s.Do(saveReq(u, k, envelope(32, 'z'))), 300)
	s.Unchanged(before)

	// Another backup of the same user has its own count.
	save(t, s, u, other, envelope(32, 'o'))

	s.Clock.Advance(5 * time.Minute)
	save(t, s, u, k, envelope(32, 'f'))
	if v := get(s, u, k).JSON(t)["version"]; v != float64(6) {
		t.Fatalf("version after the window passed = %v, want 6", v)
	}
	// The window slides: the next save must wait for the second one.
	before = s.Snapshot()
	expectTooMany(t, s.Do(saveReq(u, k, envelope(32, 'g'))), 600)
	s.Unchanged(before)
}

func TestTwentyFirstSaveInADayRefused(t *testing.T) {
	s := newServer(t, saveLimits)
	u, k, other := id("daily"), id("daily-key"), id("daily-other")
	register(t, s, u)
	// Four saves an hour stay under the hourly limit.
	for i := range 20 {
		save(t, s, u, k, envelope(32, byte('a'+i)))
		s.Clock.Advance(15 * time.Minute)
	}
	// Five hours after the first save, the day has 19 hours to go.
	before := s.Snapshot()
	r := s.Do(saveReq(u, k, envelope(32, 'z')))
	expectTooMany(t, r, int((19 * time.Hour).Seconds()))
	if msg := r.JSON(t)["error"].(string); msg != "Limit reached: saves per day." {
		t.Fatalf("refused for %q", msg)
	}
	s.Unchanged(before)

	save(t, s, u, other, envelope(32, 'o'))

	s.Clock.Advance(19*time.Hour - time.Second)
	before = s.Snapshot()
	expectTooMany(t, s.Do(saveReq(u, k, envelope(32, 'z'))), 1)
	s.Unchanged(before)
	s.Clock.Advance(time.Second)
	save(t, s, u, k, envelope(32, 'z'))
}

func TestBackupsPerUser(t *testing.T) {
	s := newServer(t) // five backups per user from one address, the default
	u := id("collector")
	register(t, s, u)
	keys := make([]string, 5)
	for i := range keys {
		keys[i] = id("collector-key-" + string(rune('a'+i)))
		save(t, s, u, keys[i], envelope(32, 'a'))
	}
	before := s.Snapshot()
	r := s.Do(saveReq(u, id("collector-key-f"), envelope(32, 'f')))
	expectTooMany(t, r, int((24 * time.Hour).Seconds()))
	s.Unchanged(before)

	// Existing keys keep working.
	for _, k := range keys {
		save(t, s, u, k, envelope(32, 'b'))
	}
	// Another user is not affected.
	register(t, s, id("neighbour"))
	save(t, s, id("neighbour"), id("neighbour-key"), envelope(32, 'n'))

	// Deleting one backup makes room for a new one.
	expectStatus(t, s.Do(deleteReq(u, keys[0])), http.StatusOK)
	save(t, s, u, id("collector-key-f"), envelope(32, 'f'))
}

func TestBackupsPerUserOff(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.MaxBackupsPerUser, c.MaxBackupsPerIP = 0, 0 })
	u := id("unbounded")
	register(t, s, u)
	for i := range 7 {
		save(t, s, u, id("unbounded-key-"+string(rune('a'+i))), envelope(32, 'a'))
	}
}

// Turned off, the save limits refuse nothing.
func TestSaveLimitsOff(t *testing.T) {
	s := newServer(t)
	u, k := id("tireless"), id("tireless-key")
	register(t, s, u)
	for i := range 25 {
		save(t, s, u, k, envelope(32, byte('a'+i)))
	}
	if v := s.Do(servertest.Request{Method: "GET", Path: getPath(u, k)}).JSON(t)["version"]; v != float64(25) {
		t.Fatalf("version = %v", v)
	}
}
