package server_test

import (
	"net/http"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

func superuserLogin(c interface {
	Do(servertest.Request) *servertest.Response
}) *servertest.Response {
	return c.Do(servertest.Request{Method: "POST", Path: "/api/collections/_superusers/auth-with-password",
		Body: map[string]string{"identity": "admin@example.com", "password": "a wrong guess"}})
}

// Guessing the dashboard's superuser password is slowed per address from the
// first start (PocketBase's own limiter, off by default, is turned on), and a
// stranger's guesses do not slow the operator's address. An operator who
// turns the limiter off keeps it off across restarts.
func TestSuperuserLoginIsRateLimited(t *testing.T) {
	s := servertest.New(t)
	stranger := s.From("127.0.0.2")
	limited := 0
	for range 10 {
		switch r := superuserLogin(stranger); r.Status {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusBadRequest:
		default:
			t.Fatalf("superuser login: %d %s", r.Status, r.Body)
		}
	}
	if limited < 7 {
		t.Fatalf("%d of 10 quick superuser login guesses were refused, want at least 7", limited)
	}
	if r := superuserLogin(s); r.Status != http.StatusBadRequest {
		t.Fatalf("the operator's address was slowed by a stranger's guesses: %d", r.Status)
	}

	settings, err := s.App.Settings().Clone()
	if err != nil {
		t.Fatal(err)
	}
	settings.RateLimits.Enabled = false
	if err := s.App.Save(settings); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if s2 := restart(t, s); s2.App.Settings().RateLimits.Enabled {
		t.Fatal("a restart turned the rate limiter back on after the operator turned it off")
	}
}
