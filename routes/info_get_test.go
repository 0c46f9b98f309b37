package routes_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/routes"
	"github.com/dailyreps/backup/servertest"
)

type infoBody struct {
	Version           string     `json:"version"`
	MaxBackupBytes    int64      `json:"maxBackupBytes"`
	UserQuotaBytes    int64      `json:"userQuotaBytes"`
	HistoryDepth      int        `json:"historyDepth"`
	Registration      string     `json:"registration"`
	SignatureRequired bool       `json:"signatureRequired"`
	Limits            infoLimits `json:"limits"`
	ServerTime        string     `json:"serverTime"`
	Protocols         [2]string  `json:"protocols"`
	KDF               infoKDF    `json:"kdf"`
}

type infoKDF struct {
	Name          string `json:"name"`
	Iterations    int    `json:"iterations"`
	MinIterations int    `json:"minIterations"`
}

type infoLimits struct {
	IPBurst             int     `json:"ipBurst"`
	IPRefillSeconds     float64 `json:"ipRefillSeconds"`
	RegisterPerHour     int     `json:"registerPerHour"`
	NewUsersPerIPPerDay int     `json:"newUsersPerIPPerDay"`
	SavesPerHour        int     `json:"savesPerHour"`
	SavesPerDay         int     `json:"savesPerDay"`
	MaxBackupsPerUser   int     `json:"maxBackupsPerUser"`
}

func getInfo(t *testing.T, s *servertest.Server) infoBody {
	t.Helper()
	r := s.Do(servertest.Request{Method: "GET", Path: "/api/info"})
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("info: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var info infoBody
	if err := json.Unmarshal(r.Body, &info); err != nil {
		t.Fatal(err)
	}
	// Nothing beyond what is documented: the endpoint is public.
	if got := r.JSON(t); len(got) != 10 || len(got["limits"].(map[string]any)) != 7 || len(got["kdf"].(map[string]any)) != 3 ||
		len(got["protocols"].([]any)) != 2 {
		t.Fatalf("info has undocumented members: %s", r.Body)
	}
	return info
}

// The defaults, as a client sees them.
func TestInfoDefaults(t *testing.T) {
	s := servertest.New(t)
	c := config.Default()
	want := infoBody{
		Version: routes.Version, MaxBackupBytes: 5 << 20, UserQuotaBytes: 50 << 20, HistoryDepth: 10,
		Registration: "open", SignatureRequired: false,
		Limits: infoLimits{c.IPBurst, c.IPRefill.Seconds(), c.RegisterPerHour, c.NewUsersPerIPPerDay,
			c.SavesPerHour, c.SavesPerDay, c.MaxBackupsPerUser},
		Protocols: [2]string{"v1", "v2"}, KDF: infoKDF{"PBKDF2-SHA256", 600_000, 600_000},
	}
	got := getInfo(t, s)
	want.ServerTime = got.ServerTime
	if got != want {
		t.Fatalf("info = %+v\nwant %+v", got, want)
	}
}

// Every setting comes from the configuration, and the endpoint stays public
// (no signature) when requests must be signed.
func TestInfoFollowsConfiguration(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.MaxBackupBytes, c.UserQuotaBytes, c.HistoryDepth = 1<<20, 7<<20, 3
		c.Registration = config.RegistrationInvite
		c.HMACSecret = []byte("a signing secret of some length")
		c.IPBurst, c.IPRefill, c.RegisterPerHour, c.NewUsersPerIPPerDay = 11, 1500*time.Millisecond, 12, 13
		c.SavesPerHour, c.SavesPerDay, c.MaxBackupsPerUser = 14, 15, 16
		c.KDFIterations = 900_000
	}))
	want := infoBody{
		Version: routes.Version, MaxBackupBytes: 1 << 20, UserQuotaBytes: 7 << 20, HistoryDepth: 3,
		Registration: "invite", SignatureRequired: true,
		Limits:    infoLimits{11, 1.5, 12, 13, 14, 15, 16},
		Protocols: [2]string{"v1", "v2"}, KDF: infoKDF{"PBKDF2-SHA256", 900_000, 600_000},
	}
	got := getInfo(t, s)
	want.ServerTime = got.ServerTime
	if got != want {
		t.Fatalf("info = %+v\nwant %+v", got, want)
	}

	s = servertest.New(t, servertest.WithConfig(func(c *config.Config) { c.Registration = config.RegistrationClosed }))
	if got := getInfo(t, s).Registration; got != "closed" {
		t.Fatalf("registration = %q, want closed", got)
	}
}

// serverTime is the server's clock in RFC 3339 UTC, so a client can tell
// how far its own clock is off (signatures allow 300 s).
func TestInfoServerTime(t *testing.T) {
	s := servertest.New(t)
	for _, skip := range []time.Duration{0, 90 * time.Minute, 49 * time.Hour} {
		s.Clock.Advance(skip)
		got := getInfo(t, s).ServerTime
		at, err := time.Parse(time.RFC3339, got)
		if err != nil || at.Location() != time.UTC {
			t.Fatalf("serverTime %q is not RFC 3339 UTC: %v", got, err)
		}
		if d := s.Clock.Now().Sub(at); d < 0 || d >= time.Millisecond {
			t.Fatalf("serverTime %s is %v from the clock (%s)", got, d, s.Clock.Now().UTC())
		}
	}
}
