package routes

import (
	"bytes"
	"encoding/json/jsontext"
	"io"
	"net/http"
	"strings"
	"unsafe"

	"github.com/dailyreps/backup/hooks"
)

const (
	nonceSize = 12 // AES-GCM's standard nonce
	tagSize   = 16 // AES-GCM's tag: no ciphertext is shorter
)

// checkData validates data's shape, not its content: the server cannot and
// should not judge ciphertext (AES-GCM output looks random by design, so an
// entropy test could not tell an abuser from a user). It accepts the
// envelope, or a bare standard-base64 string as older clients sent.
func checkData(data string, maxBytes int64) error {
	if data == "" {
		return hooks.Fail(http.StatusBadRequest, "data is missing.")
	}
	if int64(len(data)) > maxBytes {
		return hooks.Fail(http.StatusRequestEntityTooLarge, "The backup is too large.")
	}
	if !strings.HasPrefix(data, "{") {
		if _, ok := base64Len(data); !ok {
			return hooks.Fail(http.StatusBadRequest, "data must be the encrypted envelope or standard base64.")
		}
		return nil
	}
	env, ok := parseEnvelope(data)
	if !ok {
		return hooks.Fail(http.StatusBadRequest, "data is not a valid envelope: it must be {\"encrypted\", \"nonce\"} with string values.")
	}
	if !env.nonce.ok || env.nonce.len != nonceSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's nonce must be 12 bytes in standard base64.")
	}
	if !env.encrypted.ok || env.encrypted.len < tagSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's ciphertext must be at least 16 bytes in standard base64.")
	}
	return nil
}

// envelopeShape is what checkData needs of the envelope the web client puts in
// data: whether its two members are canonical base64, and their decoded
// lengths.
type envelopeShape struct {
	encrypted, nonce struct {
		len int
		ok  bool
	}
}

// parseEnvelope reads data as {"encrypted": string, "nonce": string}, with
// "appId" and "version" (strings or null) allowed for future clients. Member
// names are exact; an unknown or repeated member, another type or trailing data
// makes it invalid, as strict decoding into a struct would. It checks the
// members in place instead of decoding them: data is the bulk of a save (up to
// megabytes), and a decoder would copy it into a read buffer and the
// ciphertext into a string of its own. A null or missing member reads as
// empty, which is not valid base64.
func parseEnvelope(data string) (env envelopeShape, valid bool) {
	// The decoder parses a bytes.Buffer in place and never writes to it.
	dec := jsontext.NewDecoder(bytes.NewBuffer(unsafe.Slice(unsafe.StringData(data), len(data))))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return env, false
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return env, false
		}
		name := tok.String() // a token is only valid until the next read
		value, err := dec.ReadValue()
		if err != nil {
			return env, false
		}
		if k := value.Kind(); k != '"' && k != 'n' {
			return env, false
		}
		switch name {
		case "encrypted":
			env.encrypted.len, env.encrypted.ok = base64Value(value)
		case "nonce":
			env.nonce.len, env.nonce.ok = base64Value(value)
		case "appId", "version":
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
	return env, true
}

// base64Value is base64Len of a raw JSON string (or null), read where it
// lies unless it holds escapes. value is only valid until the decoder moves
// on, so nothing of it is kept.
func base64Value(value jsontext.Value) (int, bool) {
	if value.Kind() != '"' {
		return 0, false
	}
	if bytes.IndexByte(value, '\\') >= 0 {
		s, err := jsontext.AppendUnquote(nil, value)
		if err != nil {
			return 0, false
		}
		return base64Len(string(s))
	}
	inner := value[1 : len(value)-1]
	if len(inner) == 0 {
		return 0, false
	}
	return base64Len(unsafe.String(&inner[0], len(inner)))
}

// base64Len validates canonical, padded standard base64 (no line breaks, no
// URL-safe alphabet, zero padding bits) without decoding it, and returns the
// decoded length.
func base64Len(s string) (int, bool) {
	if len(s) == 0 || len(s)%4 != 0 {
		return 0, false
	}
	pad := 0
	if s[len(s)-1] == '=' {
		pad++
		if s[len(s)-2] == '=' {
			pad++
		}
	}
	body := s[:len(s)-pad]
	for i := 0; i < len(body); i++ {
		if b64[body[i]] < 0 {
			return 0, false
		}
	}
	// The bits the padding leaves over must be zero in canonical base64.
	if pad > 0 {
		last := b64[body[len(body)-1]]
		if pad == 1 && last&0x3 != 0 || pad == 2 && last&0xf != 0 {
			return 0, false
		}
	}
	return len(s)/4*3 - pad, true
}

var b64 = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
		t[c] = int8(i)
	}
	return t
}()
