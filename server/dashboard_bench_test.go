package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// BenchmarkDashboardList measures the dashboard's first page of backups (40
// backups of about 4.9 MB each) as a superuser reads it: the response size
// is reported as bytes/list. Run on either backend:
//
//	go test -run '^$' -bench DashboardList -benchtime 20x ./server/
//	DAILYREPS_TEST_BACKEND=postgres DAILYREPS_TEST_DATABASE_URL=... (the same)
func BenchmarkDashboardList(b *testing.B) {
	s := servertest.New(b, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.NewUsersPerIPPerDay, c.SavesPerHour, c.SavesPerDay, c.RegisterPerHour = 0, 0, 0, 0, 0
		c.MaxLargeUploads = 0
	}))
	data := envelopeOf(3_700_000) // base64: about 4.9 MB, under the 5 MiB cap
	for i := range 40 {
		u, k := servertest.ID(fmt.Sprint("bench-user-", i)), servertest.ID(fmt.Sprint("bench-key-", i))
		for _, r := range []servertest.Request{
			{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}},
			{Method: "POST", Path: "/api/backup", Body: map[string]string{"userId": u, "storageKey": k, "data": data}},
		} {
			if resp := s.Do(r); resp.Status != http.StatusOK {
				b.Fatalf("%s %s: %d %s", r.Method, r.Path, resp.Status, resp.Body)
			}
		}
	}
	admin := authAs(b, s, "_superusers", "bench@example.com", "bench-password-123")
	path := "/api/collections/backups/records?page=1&perPage=40&skipTotal=1&sort=-%40rowid"
	var size int
	b.ResetTimer()
	for range b.N {
		r := s.Do(servertest.Request{Method: "GET", Path: path, Header: map[string]string{"Authorization": admin}})
		if r.Status != http.StatusOK {
			b.Fatalf("list: %d %s", r.Status, r.Body)
		}
		size = len(r.Body)
	}
	b.ReportMetric(float64(size), "bytes/list")
}
