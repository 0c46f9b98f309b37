package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/dailyreps/backup/store"
)

// SignatureConfig configures request signatures.
type SignatureConfig struct {
	Secret []byte        // empty: nothing is checked
	Window time.Duration // accepted clock skew, either way
	Now    func() time.Time
	// UseNonce records an accepted signature until it leaves the window;
	// it returns store.ErrReplay for one seen before. It lives in the
	// database so that instances sharing it agree.
	UseNonce func(e *core.RequestEvent, nonce string, expires time.Time) error
	// InTransaction reports the requests whose handler records the nonce
	// in the same transaction as the write it protects (see Replay): they
	// pay no synced commit of their own. Nil: none.
	InTransaction func(e *core.RequestEvent) bool
}

// Replay is an accepted signature's replay record, handed to a handler that
// writes it with its own change (SignatureConfig.InTransaction).
type Replay struct {
	Nonce    string
	Expires  time.Time
	recorded bool
}

// Recorded tells the signature middleware that the record was committed.
// Otherwise (a request refused before or by its write) the middleware
// records it on its own afterwards, so an accepted signature is never
// accepted twice.
func (r *Replay) Recorded() {
	if r != nil {
		r.recorded = true
	}
}

// ReplayOf is the replay record the handler must write, nil when there is
// none (signatures off).
func ReplayOf(e *core.RequestEvent) *Replay {
	r, _ := e.Get(keyReplay).(*Replay)
	return r
}

// Signature checks X-Timestamp and X-Signature: lowercase hex of
// HMAC-SHA-256(secret, timestamp "\n" METHOD "\n" path?rawquery "\n"
// hex SHA-256(body)). The secret ships inside the web app, so this stops
// casual scripts and replays, not a determined attacker; the storageKey is the
// real credential.
func Signature(cfg SignatureConfig) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdSignature,
		Priority: PrioritySignature,
		Func: func(e *core.RequestEvent) error {
			if len(cfg.Secret) == 0 {
				return e.Next()
			}
			now := cfg.Now()
			ts, sig, problem := ParseSignatureHeaders(e.Request.Header.Get("X-Timestamp"), e.Request.Header.Get("X-Signature"))
			if problem != "" {
				return Fail(http.StatusUnauthorized, problem)
			}
			at := time.Unix(ts, 0)
			if skew := now.Sub(at); skew > cfg.Window || skew < -cfg.Window {
				e.Response.Header().Set("X-Server-Time", strconv.FormatInt(now.Unix(), 10))
				return Fail(http.StatusUnauthorized, "The request timestamp is too far from the server's clock.")
			}
			if !hmac.Equal(sig, expectedSignature(cfg.Secret, e, ts)) {
				return Fail(http.StatusUnauthorized, "The request signature is not valid.")
			}
			nonce, expires := replayNonce(sig, e.Request.Header.Get("Authorization")), at.Add(cfg.Window)
			if cfg.InTransaction != nil && cfg.InTransaction(e) {
				r := &Replay{Nonce: nonce, Expires: expires}
				e.Set(keyReplay, r)
				err := e.Next()
				if !r.recorded {
					if uerr := cfg.UseNonce(e, nonce, expires); uerr != nil && !errors.Is(uerr, store.ErrReplay) && err == nil {
						err = uerr
					}
				}
				return err
			}
			err := cfg.UseNonce(e, nonce, expires)
			if errors.Is(err, store.ErrReplay) {
				return Fail(http.StatusUnauthorized, "This request was already received.")
			}
			if err != nil {
				return err
			}
			return e.Next()
		},
	}
}

// replayNonce names a signed request for the replay check. A protocol v2
// request names no user (its session is the Authorization header, which the
// signature does not cover), so two accounts' identical requests in the same
// second would otherwise share one nonce and the second be refused; the
// header is part of the nonce when there is one. A replay copies the header
// too and is still refused. Without it (v1) the nonce is what it always was.
func replayNonce(sig []byte, authorization string) string {
	h := sha256.New()
	h.Write(sig)
	if authorization != "" {
		h.Write([]byte("\n" + authorization))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ParseSignatureHeaders validates the two headers' syntax; problem is the
// sentence to answer when they are not valid.
func ParseSignatureHeaders(timestamp, signature string) (ts int64, sig []byte, problem string) {
	if timestamp == "" || signature == "" {
		return 0, nil, "This server requires signed requests (X-Timestamp and X-Signature)."
	}
	if len(timestamp) > 12 || !allDigits(timestamp) {
		return 0, nil, "X-Timestamp must be Unix seconds."
	}
	ts, _ = strconv.ParseInt(timestamp, 10, 64)
	if len(signature) != 64 || !isLowerHex(signature) {
		return 0, nil, "X-Signature must be 64 lowercase hex characters."
	}
	sig, _ = hex.DecodeString(signature)
	return ts, sig, ""
}

func expectedSignature(secret []byte, e *core.RequestEvent, ts int64) []byte {
	bodyHash, ok := e.Get(keyBodyHash).(string)
	if !ok {
		bodyHash = emptyHash
	}
	// The target as the client sent it: a bare "?" (an empty query a Go
	// client keeps from a URL ending in "?") is part of what it signed.
	target := e.Request.URL.EscapedPath()
	if q := RawQuery(e); q != "" || e.Request.URL.ForceQuery {
		target += "?" + q
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10) + "\n" + e.Request.Method + "\n" + target + "\n" + bodyHash))
	return m.Sum(nil)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
