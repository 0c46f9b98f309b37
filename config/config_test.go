package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// env is a getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func load(t *testing.T, vars map[string]string) (Config, error) {
	t.Helper()
	return Load(env(vars))
}

func mustLoad(t *testing.T, vars map[string]string) Config {
	t.Helper()
	c, err := load(t, vars)
	if err != nil {
		t.Fatalf("Load(%v): %v", vars, err)
	}
	return c
}

const (
	pepperA = "4242424242424242424242424242424242424242424242424242424242424242"
	pepperB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil)
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load with nothing set = %+v, want the defaults %+v", c, Default())
	}
	// The plan's numbers.
	d := Default()
	for name, got := range map[string]any{
		"IPBurst": d.IPBurst, "IPRefill": d.IPRefill, "RegisterPerHour": d.RegisterPerHour,
		"SavesPerHour": d.SavesPerHour, "SavesPerDay": d.SavesPerDay, "MaxBackupsPerUser": d.MaxBackupsPerUser,
		"MaxBackupBytes": d.MaxBackupBytes, "SignatureWindow": d.SignatureWindow,
		"KDFIterations": d.KDFIterations, "SessionLifetime": d.SessionLifetime,
	} {
		want := map[string]any{
			"IPBurst": 5, "IPRefill": 2 * time.Second, "RegisterPerHour": 10, "SavesPerHour": 5, "SavesPerDay": 20,
			"MaxBackupsPerUser": 20, "MaxBackupBytes": int64(5242880), "SignatureWindow": 300 * time.Second,
			"KDFIterations": 600000, "SessionLifetime": time.Hour,
		}[name]
		if got != want {
			t.Errorf("default %s = %v, want %v", name, got, want)
		}
	}
	if d.HMACSecret != nil || d.AllowedOrigins != nil || d.TrustedProxyHeader != "" {
		t.Error("by default nothing is signed, no foreign origin is allowed and no proxy is trusted")
	}
}

// variable is one setting: a valid value and what it sets, and values that
// must be refused.
type variable struct {
	valid   string
	check   func(Config) bool
	invalid []string
}

var variables = map[string]variable{
	"DAILYREPS_PEPPER": {pepperA + "," + pepperB, func(c Config) bool {
		return len(c.Pepper) == 2 && c.Pepper[0][0] == 0x42 && c.Pepper[1][0] == 0x01
	}, []string{"42", pepperA + "00", "zz" + pepperA[2:], pepperA + ",", pepperA + ",nothex"}},
	"DAILYREPS_PEPPER_FILE":        {"/srv/pepper", func(c Config) bool { return c.PepperFile == "/srv/pepper" }, nil},
	"DAILYREPS_REQUIRE_PEPPER_ENV": {"0", func(c Config) bool { return !c.RequirePepperEnv }, []string{"maybe", "2"}},
	"DAILYREPS_HMAC_SECRET": {"a-secret-of-enough-length", func(c Config) bool {
		return string(c.HMACSecret) == "a-secret-of-enough-length"
	}, []string{"short-secret"}},
	"DAILYREPS_IP_BURST":                 intVar(func(c Config) int64 { return int64(c.IPBurst) }),
	"DAILYREPS_IP_REFILL":                durationVar(func(c Config) time.Duration { return c.IPRefill }),
	"DAILYREPS_REGISTER_PER_HOUR":        intVar(func(c Config) int64 { return int64(c.RegisterPerHour) }),
	"DAILYREPS_NEW_USERS_PER_IP_PER_DAY": intVar(func(c Config) int64 { return int64(c.NewUsersPerIPPerDay) }),
	"DAILYREPS_SAVES_PER_HOUR":           intVar(func(c Config) int64 { return int64(c.SavesPerHour) }),
	"DAILYREPS_SAVES_PER_DAY":            intVar(func(c Config) int64 { return int64(c.SavesPerDay) }),
	"DAILYREPS_FAILED_LOOKUP_BURST":      intVar(func(c Config) int64 { return int64(c.FailedLookupBurst) }),
	"DAILYREPS_FAILED_LOOKUP_REFILL":     durationVar(func(c Config) time.Duration { return c.FailedLookupRefill }),
	"DAILYREPS_MAX_BACKUPS_PER_USER":     intVar(func(c Config) int64 { return int64(c.MaxBackupsPerUser) }),
	"DAILYREPS_MAX_BACKUPS_PER_IP":       intVar(func(c Config) int64 { return int64(c.MaxBackupsPerIP) }),
	"DAILYREPS_MAX_BACKUP_BYTES":         intVar(func(c Config) int64 { return c.MaxBackupBytes }),
	"DAILYREPS_USER_QUOTA_BYTES":         intVar(func(c Config) int64 { return c.UserQuotaBytes }),
	"DAILYREPS_HISTORY_DEPTH":            intVar(func(c Config) int64 { return int64(c.HistoryDepth) }),
	"DAILYREPS_MAX_LARGE_UPLOADS":        intVar(func(c Config) int64 { return int64(c.MaxLargeUploads) }),
	"DAILYREPS_MAX_BODY_MEMORY":          intVar(func(c Config) int64 { return c.MaxBodyMemory }),
	"DAILYREPS_MIN_UPLOAD_RATE":          intVar(func(c Config) int64 { return c.MinUploadRate }),
	"DAILYREPS_UPLOAD_GRACE":             durationVar(func(c Config) time.Duration { return c.UploadGrace }),
	"DAILYREPS_MAX_CONNS_PER_IP":         intVar(func(c Config) int64 { return int64(c.MaxConnsPerIP) }),
	"DAILYREPS_PUBLIC_URL": {"https://backup.example.com", func(c Config) bool {
		return slices.Equal(c.PublicURLs, []string{"https://backup.example.com"})
	}, []string{"*", "backup.example.com", "https://backup.example.com/app"}},
	"DAILYREPS_SIGNATURE_WINDOW": durationVar(func(c Config) time.Duration { return c.SignatureWindow }),
	"DAILYREPS_KDF_ITERATIONS": {" 800000 ", func(c Config) bool { return c.KDFIterations == 800_000 },
		[]string{"0", "599999", "10000001", "-600000", "many", "6e5"}},
	"DAILYREPS_SESSION_LIFETIME": durationVar(func(c Config) time.Duration { return c.SessionLifetime }),
	"DAILYREPS_ALLOWED_ORIGINS": {" https://app.example.com/ ,http://localhost:5173", func(c Config) bool {
		return slices.Equal(c.AllowedOrigins, []string{"https://app.example.com", "http://localhost:5173"})
	}, []string{"*", "myapp.test", "https://app.example.com/path", "https:///", "ftp://app.example.com",
		"https://app.example.com?x=1", "https://user@app.example.com", "https://*.example.com", "null",
		"https://app.example.com, *"}},
	"DAILYREPS_TRUSTED_PROXY_HEADER": {" Fly-Client-IP ", func(c Config) bool { return c.TrustedProxyHeader == "Fly-Client-IP" },
		[]string{"Fly Client IP", "X-Forwarded-For:", "Fly-Client-IP\r\nX: y"}},
	"DAILYREPS_REGISTRATION": {"Invite", func(c Config) bool { return c.Registration == RegistrationInvite },
		[]string{"sometimes", "yes"}},
	"DAILYREPS_DATABASE_URL": {"postgres://app@db.internal:5432/backup", func(c Config) bool {
		return c.DatabaseURL == "postgres://app@db.internal:5432/backup"
	}, []string{"mysql://app:hunter2@db/backup", "db.internal"}},
	"DAILYREPS_DB_MAX_CONNS":        intVar(func(c Config) int64 { return int64(c.DBMaxConns) }),
	"DAILYREPS_DB_CONNECT_TIMEOUT":  durationVar(func(c Config) time.Duration { return c.DBConnectTimeout }),
	"DAILYREPS_DB_QUERY_TIMEOUT":    durationVar(func(c Config) time.Duration { return c.DBQueryTimeout }),
	"DAILYREPS_MIN_FREE_DISK_BYTES": intVar(func(c Config) int64 { return c.MinFreeDiskBytes }),
	"DAILYREPS_SHUTDOWN_TIMEOUT":    durationVar(func(c Config) time.Duration { return c.ShutdownTimeout }),
	"DAILYREPS_READ_HEADER_TIMEOUT": durationVar(func(c Config) time.Duration { return c.ReadHeaderTimeout }),
	"DAILYREPS_READ_TIMEOUT":        durationVar(func(c Config) time.Duration { return c.ReadTimeout }),
	"DAILYREPS_WRITE_TIMEOUT":       durationVar(func(c Config) time.Duration { return c.WriteTimeout }),
	"DAILYREPS_IDLE_TIMEOUT":        durationVar(func(c Config) time.Duration { return c.IdleTimeout }),
	"DAILYREPS_METRICS_TOKEN": {"a-metrics-token-long-enough", func(c Config) bool {
		return c.MetricsToken == "a-metrics-token-long-enough"
	}, []string{"short-token"}},
	"DAILYREPS_LOG_LEVEL": {"WARN", func(c Config) bool { return c.LogLevel == "warn" }, []string{"verbose", "trace"}},
}

// intVar is a whole-number setting: "37" sets 37.
func intVar(field func(Config) int64) variable {
	return variable{" 37 ", func(c Config) bool { return field(c) == 37 },
		[]string{"-1", "1.5", "1e3", "ten", "0x10", "99999999999999999999"}}
}

// durationVar is a duration setting: "90s" sets 90 s (and a bare number is
// seconds, tested separately).
func durationVar(field func(Config) time.Duration) variable {
	return variable{"90s", func(c Config) bool { return field(c) == 90*time.Second },
		[]string{"-1s", "soon", "1.5", "9223372036854775807"}}
}

// The table above covers every variable config.go reads: a new setting
// without a test fails here.
func TestEveryVariableIsCovered(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range regexp.MustCompile(`"(DAILYREPS_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := variables[name[1]]; !ok && !seen[name[1]] {
			t.Errorf("%s is read by config.go but not covered by this test", name[1])
		}
		seen[name[1]] = true
	}
}

func TestEveryVariableParsed(t *testing.T) {
	for name, v := range variables {
		t.Run(name, func(t *testing.T) {
			c := mustLoad(t, map[string]string{name: v.valid})
			if !v.check(c) {
				t.Fatalf("%s=%q did not take effect: %+v", name, v.valid, c)
			}
		})
	}
}

// Every refusal names the variable and never repeats the value: a value may
// be a secret, or hold one (a database URL's password).
func TestEveryVariableValidated(t *testing.T) {
	for name, v := range variables {
		for _, bad := range v.invalid {
			t.Run(name+"="+bad, func(t *testing.T) {
				_, err := load(t, map[string]string{name: bad})
				if err == nil {
					t.Fatalf("%s=%q accepted", name, bad)
				}
				msg := err.Error()
				if !strings.Contains(msg, name) {
					t.Fatalf("error %q does not name %s", msg, name)
				}
				if trimmed := strings.TrimSpace(bad); len(trimmed) >= 4 && strings.Contains(msg, trimmed) {
					t.Fatalf("error %q repeats the value", msg)
				}
			})
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	secrets := map[string]string{
		"DAILYREPS_PEPPER":        "c0ffee" + pepperA[6:60], // 60 hex: too short
		"DAILYREPS_HMAC_SECRET":   "hunter2-hmac",
		"DAILYREPS_DATABASE_URL":  "mysql://app:hunter2-db@db.internal/backup",
		"DAILYREPS_METRICS_TOKEN": "hunter2-metric",
	}
	_, err := load(t, secrets)
	if err == nil {
		t.Fatal("invalid secrets accepted")
	}
	msg := err.Error()
	for name, value := range secrets {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s: %q", name, msg)
		}
		for _, part := range []string{value, "hunter2", "c0ffee"} {
			if strings.Contains(msg, part) {
				t.Errorf("error repeats %q: %q", part, msg)
			}
		}
	}
}

// Every error is reported at once, so an operator fixes them in one go.
func TestAllErrorsReported(t *testing.T) {
	_, err := load(t, map[string]string{
		"DAILYREPS_IP_BURST": "many", "DAILYREPS_IP_REFILL": "often", "DAILYREPS_REGISTRATION": "maybe",
	})
	for _, name := range []string{"DAILYREPS_IP_BURST", "DAILYREPS_IP_REFILL", "DAILYREPS_REGISTRATION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %v does not name %s", err, name)
		}
	}
}

// 0 turns a limit off; the few settings that protect the server itself
// cannot be turned off.
func TestZeroTurnsLimitsOff(t *testing.T) {
	off := map[string]func(Config) bool{
		"DAILYREPS_IP_BURST":                 func(c Config) bool { return c.IPBurst == 0 },
		"DAILYREPS_IP_REFILL":                func(c Config) bool { return c.IPRefill == 0 },
		"DAILYREPS_REGISTER_PER_HOUR":        func(c Config) bool { return c.RegisterPerHour == 0 },
		"DAILYREPS_NEW_USERS_PER_IP_PER_DAY": func(c Config) bool { return c.NewUsersPerIPPerDay == 0 },
		"DAILYREPS_SAVES_PER_HOUR":           func(c Config) bool { return c.SavesPerHour == 0 },
		"DAILYREPS_SAVES_PER_DAY":            func(c Config) bool { return c.SavesPerDay == 0 },
		"DAILYREPS_FAILED_LOOKUP_BURST":      func(c Config) bool { return c.FailedLookupBurst == 0 },
		"DAILYREPS_FAILED_LOOKUP_REFILL":     func(c Config) bool { return c.FailedLookupRefill == 0 },
		"DAILYREPS_MAX_BACKUPS_PER_USER":     func(c Config) bool { return c.MaxBackupsPerUser == 0 },
		"DAILYREPS_MAX_BACKUPS_PER_IP":       func(c Config) bool { return c.MaxBackupsPerIP == 0 },
		"DAILYREPS_USER_QUOTA_BYTES":         func(c Config) bool { return c.UserQuotaBytes == 0 },
		"DAILYREPS_HISTORY_DEPTH":            func(c Config) bool { return c.HistoryDepth == 0 },
		"DAILYREPS_MAX_LARGE_UPLOADS":        func(c Config) bool { return c.MaxLargeUploads == 0 },
		"DAILYREPS_MIN_FREE_DISK_BYTES":      func(c Config) bool { return c.MinFreeDiskBytes == 0 },
	}
	for name, isOff := range off {
		c := mustLoad(t, map[string]string{name: "0"})
		if !isOff(c) {
			t.Errorf("%s=0 did not turn it off", name)
		}
	}
	for _, name := range []string{"DAILYREPS_MAX_BACKUP_BYTES", "DAILYREPS_DB_MAX_CONNS", "DAILYREPS_SIGNATURE_WINDOW",
		"DAILYREPS_KDF_ITERATIONS", "DAILYREPS_SESSION_LIFETIME",
		"DAILYREPS_READ_HEADER_TIMEOUT", "DAILYREPS_READ_TIMEOUT", "DAILYREPS_WRITE_TIMEOUT", "DAILYREPS_IDLE_TIMEOUT"} {
		if _, err := load(t, map[string]string{name: "0"}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=0 accepted (%v)", name, err)
		}
	}
}

func TestDurations(t *testing.T) {
	for value, want := range map[string]time.Duration{
		"2s": 2 * time.Second, "90": 90 * time.Second, " 1h ": time.Hour, "1m30s": 90 * time.Second,
		"500ms": 500 * time.Millisecond, "0": 0,
	} {
		c := mustLoad(t, map[string]string{"DAILYREPS_IP_REFILL": value})
		if c.IPRefill != want {
			t.Errorf("DAILYREPS_IP_REFILL=%q = %v, want %v", value, c.IPRefill, want)
		}
	}
}

func TestOrigins(t *testing.T) {
	c := mustLoad(t, map[string]string{"DAILYREPS_ALLOWED_ORIGINS": "HTTPS://App.Example.COM:443, http://localhost:80/,https://x.example:8443,,"})
	want := []string{"https://app.example.com", "http://localhost", "https://x.example:8443"}
	if !slices.Equal(c.AllowedOrigins, want) {
		t.Fatalf("origins = %q, want %q (as browsers send Origin)", c.AllowedOrigins, want)
	}
	c = mustLoad(t, map[string]string{"DAILYREPS_ALLOWED_ORIGINS": " , "})
	if len(c.AllowedOrigins) != 0 {
		t.Fatalf("blank list = %q", c.AllowedOrigins)
	}
}

func TestHMACSecretKeptAsGiven(t *testing.T) {
	const s = "  spaces count in a secret  "
	c := mustLoad(t, map[string]string{"DAILYREPS_HMAC_SECRET": s})
	if string(c.HMACSecret) != s {
		t.Fatalf("secret = %q", c.HMACSecret)
	}
}

func TestRequirePepperEnv(t *testing.T) {
	for value, want := range map[string]bool{"1": true, "true": true, "0": false, "false": false, "": false} {
		c, err := load(t, map[string]string{"DAILYREPS_REQUIRE_PEPPER_ENV": value, "DAILYREPS_PEPPER": pepperA})
		if err != nil || c.RequirePepperEnv != want {
			t.Fatalf("DAILYREPS_REQUIRE_PEPPER_ENV=%q: %v, %v", value, c.RequirePepperEnv, err)
		}
	}
}
