package routes

import (
	"encoding/json/v2"
	"net/http"
	"strings"

	"github.com/dailyreps/backup/hooks"
)

// envelope is what the web client puts in data. appId and version are allowed
// for future clients.
type envelope struct {
	Encrypted string  `json:"encrypted"`
	Nonce     string  `json:"nonce"`
	AppID     *string `json:"appId,omitzero"`
	Version   *string `json:"version,omitzero"`
}

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
	var env envelope
	if err := json.UnmarshalRead(strings.NewReader(data), &env, json.RejectUnknownMembers(true)); err != nil {
		return hooks.Fail(http.StatusBadRequest, "data is not a valid envelope: it must be {\"encrypted\", \"nonce\"} with string values.")
	}
	if n, ok := base64Len(env.Nonce); !ok || n != nonceSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's nonce must be 12 bytes in standard base64.")
	}
	if n, ok := base64Len(env.Encrypted); !ok || n < tagSize {
		return hooks.Fail(http.StatusBadRequest, "The envelope's ciphertext must be at least 16 bytes in standard base64.")
	}
	return nil
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
