package routes

import (
	"bytes"
	"encoding/json/jsontext"
	"io"
	"net/http"
	"unsafe"

	"github.com/dailyreps/backup/hooks"
)

// checkV2Data validates a v2 save's data: the envelope
// {"v": 2, "nonce", "ct", "z"?} with a 12-byte nonce, a ciphertext of at
// least a tag, and "z" only as "gzip". v1 envelopes are not accepted: a v2
// save is bound to its account, backup and version, which only a v2
// envelope's associated data does. (Versions moved by an upgrade keep the
// v1 envelope they were stored with.)
func checkV2Data(data string, maxBytes int64) error {
	if data == "" {
		return hooks.Fail(http.StatusBadRequest, "data is missing.")
	}
	if int64(len(data)) > maxBytes {
		return hooks.Fail(http.StatusRequestEntityTooLarge, "The backup is too large.")
	}
	env, ok := parseV2Envelope(data)
	if !ok {
		return hooks.Fail(http.StatusBadRequest, `data is not a valid v2 envelope: it must be {"v": 2, "nonce", "ct", "z"?}.`)
	}
	if !env.nonce.ok || env.nonce.len != nonceSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's nonce must be 12 bytes in standard base64.")
	}
	if !env.ct.ok || env.ct.len < tagSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's ciphertext must be at least 16 bytes in standard base64.")
	}
	return nil
}

type v2EnvelopeShape struct {
	nonce, ct struct {
		len int
		ok  bool
	}
}

// parseV2Envelope reads data as {"v": 2, "nonce": string, "ct": string,
// "z": "gzip"}, z optional, the others required, in place as parseEnvelope
// does (data is most of a save). Names are exact; an unknown or repeated
// member, another type or trailing data makes it invalid.
func parseV2Envelope(data string) (env v2EnvelopeShape, valid bool) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(unsafe.Slice(unsafe.StringData(data), len(data))))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return env, false
	}
	seen := map[string]bool{}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return env, false
		}
		name := tok.String()
		value, err := dec.ReadValue()
		if err != nil || seen[name] {
			return env, false
		}
		seen[name] = true
		switch name {
		case "v":
			if string(value) != "2" {
				return env, false
			}
		case "nonce", "ct":
			n, ok := base64Value(value)
			if name == "nonce" {
				env.nonce.len, env.nonce.ok = n, ok
			} else {
				env.ct.len, env.ct.ok = n, ok
			}
		case "z":
			if string(value) != `"gzip"` {
				return env, false
			}
		default:
			return env, false
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return env, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return env, false
	}
	return env, seen["v"] && seen["nonce"] && seen["ct"]
}
