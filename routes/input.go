package routes

import (
	"bytes"
	"encoding/json/v2"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/dailyreps/backup/hooks"
)

// ids are a client's userId and storageKey, validated and lower-cased, and
// their peppered forms, which are all the store ever sees.
type ids struct {
	user, key string // peppered
}

// decodeBody decodes the request body into dst strictly: exact member names,
// no unknown or duplicated members, no trailing data. encoding/json/v2 does
// all of this except unknown members, which it is told to reject.
func decodeBody(e *core.RequestEvent, dst any) error {
	body := hooks.TakeBody(e)
	if len(bytes.TrimSpace(body)) == 0 {
		return hooks.Fail(http.StatusBadRequest, "The request body is empty.")
	}
	if err := json.Unmarshal(body, dst, json.RejectUnknownMembers(true)); err != nil {
		return hooks.Fail(http.StatusBadRequest, "The request body is not valid: "+describeJSONError(err))
	}
	if b, ok := dst.(bodyBound); ok {
		b.bind(body)
	}
	return nil
}

// describeJSONError names the kind of problem without quoting the input.
func describeJSONError(err error) string {
	var se *json.SemanticError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown object member"), strings.Contains(msg, "unknown name"):
		return "it has an unknown member (members are case-sensitive)."
	case strings.Contains(msg, "duplicate"):
		return "it has a duplicated member."
	case errors.As(err, &se) && se.JSONKind != 0:
		return "a member has the wrong type."
	}
	return "it is not well-formed JSON."
}

// hexID validates a 64-hex-character SHA-256 and lower-cases it. Upper case
// means the same; anything else (Unicode digits, NUL bytes) is refused.
func hexID(s string) (string, bool) {
	if len(s) != 64 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

func (h *handlers) pepperIDs(userID, storageKey string) (ids, error) {
	u, ok := hexID(userID)
	if !ok {
		return ids{}, hooks.Fail(http.StatusBadRequest, "userId must be 64 hex characters.")
	}
	out := ids{user: h.Pepper.User(u)}
	if storageKey == "-" { // register: no key
		return out, nil
	}
	k, ok := hexID(storageKey)
	if !ok {
		return ids{}, hooks.Fail(http.StatusBadRequest, "storageKey must be 64 hex characters.")
	}
	out.key = h.Pepper.Key(k)
	return out, nil
}

// query parses the query string strictly: only the allowed names, each once.
func query(e *core.RequestEvent, allowed ...string) (url.Values, error) {
	q, err := hooks.Query(e)
	if err != nil {
		return nil, hooks.Fail(http.StatusBadRequest, "The query string is not valid.")
	}
	for name, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || name == a
		}
		if !known {
			return nil, hooks.Fail(http.StatusBadRequest, "The query string has an unknown parameter (names are case-sensitive).")
		}
		if len(vs) != 1 {
			return nil, hooks.Fail(http.StatusBadRequest, "A query parameter is repeated.")
		}
	}
	return q, nil
}

// version parses the optional version parameter: absent, it means the
// newest; present, it must be a positive whole number. An empty one is a
// client's bug, which would otherwise restore the newest version in place of
// the one asked for.
func version(q url.Values) (int64, error) {
	if !q.Has("version") {
		return 0, nil
	}
	s := q.Get("version")
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || s[0] == '+' {
		return 0, hooks.Fail(http.StatusBadRequest, "version must be a positive whole number.")
	}
	return v, nil
}

// etagVersion parses an If-Match or If-None-Match value: "N" (or W/"N").
func etagVersion(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	return v, err == nil && v > 0
}

func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }
