package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Headers of the request-signing scheme.
const (
	HeaderTimestamp  = "X-Timestamp"
	HeaderSignature  = "X-Signature"
	HeaderServerTime = "X-Server-Time"
)

// BodyHash is the lowercase hex SHA-256 of a request body, as signed.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Sign returns the X-Signature value for a request. pathAndQuery is the
// path with its raw query string, exactly as sent, e.g.
// "/api/backup?storageKey=..&userId=..".
func Sign(secret []byte, timestamp int64, method, pathAndQuery string, body []byte) string {
	return SignBodyHash(secret, timestamp, method, pathAndQuery, BodyHash(body))
}

// SignBodyHash is Sign for a caller that hashed the body as it streamed by,
// without holding it in memory.
func SignBodyHash(secret []byte, timestamp int64, method, pathAndQuery, bodyHash string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + method + "\n" + pathAndQuery + "\n" + bodyHash))
	return hex.EncodeToString(mac.Sum(nil))
}
