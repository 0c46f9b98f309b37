package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// Authorized reports whether an Authorization header carries the bearer
// token. Both sides are hashed first so that the comparison takes the same
// time whatever the lengths; an empty token authorizes nothing.
func Authorized(authorization, token string) bool {
	if token == "" {
		return false
	}
	scheme, credentials, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(credentials)))
	want := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
