// Package config is the one place that reads DAILYREPS_* variables. Everything
// else receives a typed Config, so no handler or hook reads the environment.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Registration modes.
const (
	RegistrationOpen   = "open"
	RegistrationClosed = "closed"
	RegistrationInvite = "invite"
)

// MinKDFIterations is protocol v2's floor for PBKDF2-SHA256 (OWASP's current
// figure), MaxKDFIterations a ceiling past which a login would take a phone
// minutes: a setting outside them is refused.
const (
	MinKDFIterations = 600_000
	MaxKDFIterations = 10_000_000
)

// Config holds every operator setting. A zero limit turns that limit off.
type Config struct {
	// Secrets: never logged, never part of an error.
	Pepper     [][]byte // DAILYREPS_PEPPER: 64 hex, or oldest-first comma-separated after rotations; empty means the pepper file
	PepperFile string   // DAILYREPS_PEPPER_FILE; empty means the default beside the data
	HMACSecret []byte   // DAILYREPS_HMAC_SECRET; empty turns signature checks off

	// DAILYREPS_REQUIRE_PEPPER_ENV, set by the container image: refuse to
	// start without DAILYREPS_PEPPER rather than generate a pepper file.
	RequirePepperEnv bool

	IPBurst             int           // DAILYREPS_IP_BURST
	IPRefill            time.Duration // DAILYREPS_IP_REFILL
	RegisterPerHour     int           // DAILYREPS_REGISTER_PER_HOUR (per client IP)
	NewUsersPerIPPerDay int           // DAILYREPS_NEW_USERS_PER_IP_PER_DAY
	SavesPerHour        int           // DAILYREPS_SAVES_PER_HOUR (per backup)
	SavesPerDay         int           // DAILYREPS_SAVES_PER_DAY (per backup)
	FailedLookupBurst   int           // DAILYREPS_FAILED_LOOKUP_BURST (per client IP and userId)
	FailedLookupRefill  time.Duration // DAILYREPS_FAILED_LOOKUP_REFILL
	MaxBackupsPerUser   int           // DAILYREPS_MAX_BACKUPS_PER_USER
	MaxBackupsPerIP     int           // DAILYREPS_MAX_BACKUPS_PER_IP (per user and creating client IP)
	MaxBackupBytes      int64         // DAILYREPS_MAX_BACKUP_BYTES
	UserQuotaBytes      int64         // DAILYREPS_USER_QUOTA_BYTES
	HistoryDepth        int           // DAILYREPS_HISTORY_DEPTH
	MaxLargeUploads     int           // DAILYREPS_MAX_LARGE_UPLOADS (per client address)
	MaxBodyMemory       int64         // DAILYREPS_MAX_BODY_MEMORY: request bodies held at once, server-wide
	MinUploadRate       int64         // DAILYREPS_MIN_UPLOAD_RATE: bytes per second a body must keep up after UploadGrace
	UploadGrace         time.Duration // DAILYREPS_UPLOAD_GRACE
	MaxConnsPerIP       int           // DAILYREPS_MAX_CONNS_PER_IP: open connections per client address
	SignatureWindow     time.Duration // DAILYREPS_SIGNATURE_WINDOW

	// Protocol v2: the PBKDF2 iterations new accounts get and older ones
	// are raised to at their next login, and how long a login lasts.
	KDFIterations   int           // DAILYREPS_KDF_ITERATIONS
	SessionLifetime time.Duration // DAILYREPS_SESSION_LIFETIME

	AllowedOrigins     []string // DAILYREPS_ALLOWED_ORIGINS (comma-separated)
	PublicURLs         []string // DAILYREPS_PUBLIC_URL: the origin(s) the server's own page is served from; empty: loopback only
	TrustedProxyHeader string   // DAILYREPS_TRUSTED_PROXY_HEADER, e.g. Fly-Client-IP

	Registration string // DAILYREPS_REGISTRATION: open, closed or invite

	DatabaseURL      string        // DAILYREPS_DATABASE_URL (postgres://...); empty means SQLite
	DBMaxConns       int           // DAILYREPS_DB_MAX_CONNS
	DBConnectTimeout time.Duration // DAILYREPS_DB_CONNECT_TIMEOUT
	DBQueryTimeout   time.Duration // DAILYREPS_DB_QUERY_TIMEOUT

	MetricsToken     string        // DAILYREPS_METRICS_TOKEN; empty turns /metrics off
	MinFreeDiskBytes int64         // DAILYREPS_MIN_FREE_DISK_BYTES, checked by /health
	ShutdownTimeout  time.Duration // DAILYREPS_SHUTDOWN_TIMEOUT
	LogLevel         string        // DAILYREPS_LOG_LEVEL: debug, info, warn, error

	// Connection timeouts, which cut off slow and stalled clients.
	ReadHeaderTimeout time.Duration // DAILYREPS_READ_HEADER_TIMEOUT
	ReadTimeout       time.Duration // DAILYREPS_READ_TIMEOUT: a whole request, body included
	WriteTimeout      time.Duration // DAILYREPS_WRITE_TIMEOUT: from the end of the headers to the end of the response
	IdleTimeout       time.Duration // DAILYREPS_IDLE_TIMEOUT: a kept-alive connection between requests
}

// Default returns the settings used when no variable is set.
func Default() Config {
	return Config{
		IPBurst:             5,
		IPRefill:            2 * time.Second,
		RegisterPerHour:     10,
		NewUsersPerIPPerDay: 20,
		SavesPerHour:        5,
		SavesPerDay:         20,
		FailedLookupBurst:   10,
		FailedLookupRefill:  30 * time.Second,
		MaxBackupsPerUser:   20,
		MaxBackupsPerIP:     5,
		MaxBackupBytes:      5 << 20,
		UserQuotaBytes:      50 << 20,
		HistoryDepth:        10,
		MaxLargeUploads:     2,
		MaxBodyMemory:       256 << 20,
		MinUploadRate:       4 << 10,
		UploadGrace:         10 * time.Second,
		MaxConnsPerIP:       64,
		SignatureWindow:     300 * time.Second,
		KDFIterations:       MinKDFIterations,
		SessionLifetime:     time.Hour,
		Registration:        RegistrationOpen,
		DBMaxConns:          10,
		DBConnectTimeout:    5 * time.Second,
		DBQueryTimeout:      15 * time.Second,
		MinFreeDiskBytes:    100 << 20,
		ShutdownTimeout:     30 * time.Second,
		LogLevel:            "info",
		// Sized for 5 MiB uploads from slow phones.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       90 * time.Second,
	}
}

// Load reads the configuration through getenv (os.Getenv in production).
// Every error names the variable at fault and never echoes a secret's value.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	r := reader{getenv: getenv}

	c.Pepper = r.hexSecrets("DAILYREPS_PEPPER", 32)
	c.PepperFile = getenv("DAILYREPS_PEPPER_FILE")
	c.RequirePepperEnv = r.bool("DAILYREPS_REQUIRE_PEPPER_ENV")
	if c.RequirePepperEnv && strings.TrimSpace(getenv("DAILYREPS_PEPPER")) == "" {
		// In a container, a generated pepper would sit in the volume beside
		// the database it protects, in every snapshot of it, and nowhere else.
		r.fail("DAILYREPS_PEPPER", "must be set in this container image: generate it once with `openssl rand -hex 32`, "+
			"keep a copy offline (losing it loses every backup) and pass it as an environment variable or secret")
	}
	if s := getenv("DAILYREPS_HMAC_SECRET"); s != "" {
		if len(s) < 16 {
			r.fail("DAILYREPS_HMAC_SECRET", "must be at least 16 characters")
		}
		c.HMACSecret = []byte(s)
	}

	r.int("DAILYREPS_IP_BURST", &c.IPBurst)
	r.duration("DAILYREPS_IP_REFILL", &c.IPRefill)
	r.int("DAILYREPS_REGISTER_PER_HOUR", &c.RegisterPerHour)
	r.int("DAILYREPS_NEW_USERS_PER_IP_PER_DAY", &c.NewUsersPerIPPerDay)
	r.int("DAILYREPS_SAVES_PER_HOUR", &c.SavesPerHour)
	r.int("DAILYREPS_SAVES_PER_DAY", &c.SavesPerDay)
	r.int("DAILYREPS_FAILED_LOOKUP_BURST", &c.FailedLookupBurst)
	r.duration("DAILYREPS_FAILED_LOOKUP_REFILL", &c.FailedLookupRefill)
	r.int("DAILYREPS_MAX_BACKUPS_PER_USER", &c.MaxBackupsPerUser)
	r.int("DAILYREPS_MAX_BACKUPS_PER_IP", &c.MaxBackupsPerIP)
	r.int64("DAILYREPS_MAX_BACKUP_BYTES", &c.MaxBackupBytes)
	r.int64("DAILYREPS_USER_QUOTA_BYTES", &c.UserQuotaBytes)
	r.int("DAILYREPS_HISTORY_DEPTH", &c.HistoryDepth)
	r.int("DAILYREPS_MAX_LARGE_UPLOADS", &c.MaxLargeUploads)
	r.int64("DAILYREPS_MAX_BODY_MEMORY", &c.MaxBodyMemory)
	r.int64("DAILYREPS_MIN_UPLOAD_RATE", &c.MinUploadRate)
	r.duration("DAILYREPS_UPLOAD_GRACE", &c.UploadGrace)
	r.int("DAILYREPS_MAX_CONNS_PER_IP", &c.MaxConnsPerIP)
	r.duration("DAILYREPS_SIGNATURE_WINDOW", &c.SignatureWindow)
	r.int("DAILYREPS_KDF_ITERATIONS", &c.KDFIterations)
	r.duration("DAILYREPS_SESSION_LIFETIME", &c.SessionLifetime)

	c.AllowedOrigins = r.origins("DAILYREPS_ALLOWED_ORIGINS")
	c.PublicURLs = r.origins("DAILYREPS_PUBLIC_URL")
	c.TrustedProxyHeader = r.headerName("DAILYREPS_TRUSTED_PROXY_HEADER")

	if s := getenv("DAILYREPS_REGISTRATION"); s != "" {
		c.Registration = strings.ToLower(strings.TrimSpace(s))
	}
	switch c.Registration {
	case RegistrationOpen, RegistrationClosed, RegistrationInvite:
	default:
		r.fail("DAILYREPS_REGISTRATION", "must be open, closed or invite")
	}

	c.DatabaseURL = strings.TrimSpace(getenv("DAILYREPS_DATABASE_URL"))
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		r.fail("DAILYREPS_DATABASE_URL", "must start with postgres:// or postgresql://")
	}
	r.int("DAILYREPS_DB_MAX_CONNS", &c.DBMaxConns)
	r.duration("DAILYREPS_DB_CONNECT_TIMEOUT", &c.DBConnectTimeout)
	r.duration("DAILYREPS_DB_QUERY_TIMEOUT", &c.DBQueryTimeout)

	c.MetricsToken = strings.TrimSpace(getenv("DAILYREPS_METRICS_TOKEN"))
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		r.fail("DAILYREPS_METRICS_TOKEN", "must be at least 16 characters (for example: openssl rand -hex 32)")
	}
	r.int64("DAILYREPS_MIN_FREE_DISK_BYTES", &c.MinFreeDiskBytes)
	r.duration("DAILYREPS_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	r.duration("DAILYREPS_READ_HEADER_TIMEOUT", &c.ReadHeaderTimeout)
	r.duration("DAILYREPS_READ_TIMEOUT", &c.ReadTimeout)
	r.duration("DAILYREPS_WRITE_TIMEOUT", &c.WriteTimeout)
	r.duration("DAILYREPS_IDLE_TIMEOUT", &c.IdleTimeout)

	if s := getenv("DAILYREPS_LOG_LEVEL"); s != "" {
		c.LogLevel = strings.ToLower(strings.TrimSpace(s))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		r.fail("DAILYREPS_LOG_LEVEL", "must be debug, info, warn or error")
	}

	if c.MaxBackupBytes <= 0 {
		// The cap protects memory and disk; it cannot be turned off.
		r.fail("DAILYREPS_MAX_BACKUP_BYTES", "must be positive")
	}
	if c.DBMaxConns <= 0 {
		r.fail("DAILYREPS_DB_MAX_CONNS", "must be positive")
	}
	if c.SignatureWindow <= 0 {
		r.fail("DAILYREPS_SIGNATURE_WINDOW", "must be positive")
	}
	if c.KDFIterations < MinKDFIterations || c.KDFIterations > MaxKDFIterations {
		r.fail("DAILYREPS_KDF_ITERATIONS", fmt.Sprintf("must be from %d to %d", MinKDFIterations, MaxKDFIterations))
	}
	if c.SessionLifetime <= 0 {
		r.fail("DAILYREPS_SESSION_LIFETIME", "must be positive")
	}
	// Zero would mean no timeout at all to net/http: one stalled client
	// per connection slot would then hold the server.
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"DAILYREPS_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout}, {"DAILYREPS_READ_TIMEOUT", c.ReadTimeout},
		{"DAILYREPS_WRITE_TIMEOUT", c.WriteTimeout}, {"DAILYREPS_IDLE_TIMEOUT", c.IdleTimeout}} {
		if t.d <= 0 {
			r.fail(t.name, "must be positive")
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		r.fail("DAILYREPS_READ_HEADER_TIMEOUT", "must not be longer than DAILYREPS_READ_TIMEOUT")
	}
	return c, errors.Join(r.errs...)
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s %s", name, why))
}

func (r *reader) int(name string, dst *int) {
	var v int64
	if r.parseInt(name, &v) {
		*dst = int(v)
	}
}

func (r *reader) int64(name string, dst *int64) {
	r.parseInt(name, dst)
}

func (r *reader) parseInt(name string, dst *int64) bool {
	s := strings.TrimSpace(r.getenv(name))
	if s == "" {
		return false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > 1<<40 {
		r.fail(name, "must be a whole number from 0 (off) upwards")
		return false
	}
	*dst = v
	return true
}

func (r *reader) bool(name string) bool {
	s := strings.TrimSpace(r.getenv(name))
	if s == "" {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		r.fail(name, "must be 1 or 0 (true or false)")
	}
	return v
}

func (r *reader) duration(name string, dst *time.Duration) {
	s := strings.TrimSpace(r.getenv(name))
	if s == "" {
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		// A bare number means seconds, the unit every limit is documented in.
		n, nerr := strconv.ParseInt(s, 10, 64)
		if nerr != nil || n > math.MaxInt64/int64(time.Second) {
			r.fail(name, "must be a duration such as 2s, 90s or 1h")
			return
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		r.fail(name, "must not be negative")
		return
	}
	*dst = d
}

func (r *reader) hexSecrets(name string, size int) [][]byte {
	s := strings.TrimSpace(r.getenv(name))
	if s == "" {
		return nil
	}
	var out [][]byte
	for _, part := range strings.Split(s, ",") {
		b, err := hex.DecodeString(strings.TrimSpace(part))
		if err != nil || len(b) != size {
			r.fail(name, fmt.Sprintf("must be %d hex characters (for example: openssl rand -hex %d), or several separated by commas after a rotation", size*2, size))
			return nil
		}
		out = append(out, b)
	}
	return out
}

// origins reads a comma-separated allowlist of exact origins and writes each
// as browsers send it in Origin: scheme://host[:port] in lower case, without
// a default port.
func (r *reader) origins(name string) []string {
	var out []string
	for _, o := range strings.Split(r.getenv(name), ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		origin, ok := canonicalOrigin(o)
		if !ok {
			r.fail(name, "must list origins such as https://app.example.com (scheme and host, no path), separated by commas ('*' is not allowed)")
			return nil
		}
		out = append(out, origin)
	}
	return out
}

func canonicalOrigin(s string) (string, bool) {
	if strings.ContainsAny(s, "*?#@\\") {
		return "", false
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Host == "" || u.Path != "" || u.Opaque != "" {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	if port := u.Port(); scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return scheme + "://" + host, true
}

// headerName reads an HTTP header name (a token).
func (r *reader) headerName(name string) string {
	s := strings.TrimSpace(r.getenv(name))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			r.fail(name, "must be a header name such as Fly-Client-IP")
			return ""
		}
	}
	return s
}
