package routes_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

func TestRegister(t *testing.T) {
	s := newServer(t)
	u := id("alice")
	r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}})
	if r.Status != 200 || string(r.Body) != `{"success":true}` {
		t.Fatalf("register = %d %s", r.Status, r.Body)
	}
	before := s.Snapshot()
	// Upper case means the same id.
	r = s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": strings.ToUpper(u)}})
	if msg := expectError(t, r, http.StatusConflict); !strings.Contains(msg, "already registered") {
		t.Fatalf("409 message = %q", msg)
	}
	s.Unchanged(before)
}

func TestRegisterInvalid(t *testing.T) {
	s := newServer(t)
	before := s.Snapshot()
	for name, body := range map[string]string{
		"short id":       `{"userId":"abc"}`,
		"non-hex":        `{"userId":"` + strings.Repeat("g", 64) + `"}`,
		"missing":        `{}`,
		"null":           `{"userId":null}`,
		"wrong type":     `{"userId":42}`,
		"unknown member": `{"userId":"` + id("a") + `","extra":1}`,
		"other case":     `{"userid":"` + id("a") + `"}`,
		"duplicate":      `{"userId":"` + id("a") + `","userId":"` + id("b") + `"}`,
		"trailing":       `{"userId":"` + id("a") + `"} {}`,
		"not json":       `userId=` + id("a"),
		"empty":          ``,
		"array":          `["` + id("a") + `"]`,
	} {
		t.Run(name, func(t *testing.T) {
			r := s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: body})
			expectError(t, r, http.StatusBadRequest)
			s.Unchanged(before)
		})
	}
}

func TestRegisterRace(t *testing.T) {
	s := newServer(t)
	u := id("racer")
	var wg sync.WaitGroup
	statuses := make([]int, 12)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = s.Do(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": u}}).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		switch st {
		case 200:
			ok++
		case 409:
		default:
			t.Fatalf("status %d in race", st)
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations succeeded, want exactly 1 (%v)", ok, statuses)
	}
}
