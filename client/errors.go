package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors for the statuses a caller reacts to; match them with
// errors.Is against the *APIError that a request returns.
var (
	ErrUnauthorized      = errors.New("client: request signature refused")
	ErrForbidden         = errors.New("client: forbidden")
	ErrNotFound          = errors.New("client: not found")
	ErrAlreadyRegistered = errors.New("client: already registered")
	ErrStale             = errors.New("client: backup changed since the version given")
	ErrTooLarge          = errors.New("client: backup too large or over quota")
	ErrRateLimited       = errors.New("client: rate limited")
	ErrUnavailable       = errors.New("client: server unavailable")

	// Protocol v2's refusals that a 401 or a 409 alone does not tell apart.
	ErrWrongPassword = errors.New("client: wrong username or password")
	ErrSignInAgain   = errors.New("client: the session ended; sign in again")
	ErrMovedToV2     = errors.New("client: the username has moved to protocol v2")
)

var sentinelByStatus = map[int]error{
	http.StatusUnauthorized:          ErrUnauthorized,
	http.StatusForbidden:             ErrForbidden,
	http.StatusNotFound:              ErrNotFound,
	http.StatusConflict:              ErrAlreadyRegistered,
	http.StatusPreconditionFailed:    ErrStale,
	http.StatusRequestEntityTooLarge: ErrTooLarge,
	http.StatusTooManyRequests:       ErrRateLimited,
	http.StatusServiceUnavailable:    ErrUnavailable,
}

// APIError is a response from the server with an error status. It never
// holds the query string, which carries the storage key.
type APIError struct {
	Method  string
	Path    string
	Status  int
	Message string // the server's own sentence, made safe to print

	// RetryAfter is how long the server asked to wait (429, 503), or zero.
	RetryAfter time.Duration

	// CurrentVersion is the server's version on a 412, or zero.
	CurrentVersion int64

	// kind, when set, is a sentinel more precise than the status's.
	kind error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) and its kin work.
func (e *APIError) Is(target error) bool {
	if e.kind != nil && e.kind == target {
		return true
	}
	sentinel, ok := sentinelByStatus[e.Status]
	return ok && sentinel == target
}

func newAPIError(method, path string, resp *response) *APIError {
	e := &APIError{
		Method:     method,
		Path:       path,
		Status:     resp.status,
		Message:    errorMessage(resp.body),
		RetryAfter: parseRetryAfter(resp.header.Get("Retry-After"), time.Now()),
	}
	if e.Status == http.StatusPreconditionFailed {
		e.CurrentVersion, _ = parseETag(resp.header.Get("ETag"))
	}
	if e.Status == http.StatusConflict && method == http.MethodPost && path == "/api/backup" {
		// v1 saves of a username with a v2 account are refused for good.
		e.kind = ErrMovedToV2
	}
	return e
}

// errorMessage extracts {"error": ...} and defuses it: the text ends up on
// terminals, and a hostile server must not be able to send control
// sequences or flood them.
func errorMessage(body []byte) string {
	const maxLen = 200
	var payload struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return ""
	}
	msg := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, payload.Error)
	if runes := []rune(msg); len(runes) > maxLen {
		msg = string(runes[:maxLen]) + "…"
	}
	return msg
}

// parseRetryAfter accepts both forms HTTP allows: delay seconds and a date.
func parseRetryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	// 32 bits of seconds cannot overflow a time.Duration.
	if seconds, err := strconv.ParseUint(value, 10, 32); err == nil {
		return time.Duration(seconds) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// classifyV2 names a v2 401: with a session it has ended (or never was);
// without one the password, recovery code or storage key was wrong.
func classifyV2(err error, withSession bool) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized && apiErr.kind == nil {
		apiErr.kind = ErrWrongPassword
		if withSession {
			apiErr.kind = ErrSignInAgain
		}
	}
	return err
}
