package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// id is a 64-hex id derived from name, as the web client derives its userId
// and storageKey.
func id(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// The fixed account the wrk workloads use: saves to one key measure the
// upsert, restores read it back.
var (
	benchUser = id("bench-user")
	benchKey  = id("bench-key")
)

// envelopeOverhead is the length of {"encrypted":"","nonce":""} plus a
// 12-byte nonce in base64.
const envelopeOverhead = len(`{"encrypted":"","nonce":""}`) + 16

// ciphertext returns standard base64 that stands for AES-GCM output, sized so
// that the envelope around it is at most size bytes (and at least the
// smallest the server accepts).
func ciphertext(size int) string {
	n := max((size-envelopeOverhead)/4*3, 18)
	raw := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(size), 1)) // repeatable; any bytes will do
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// nonceB64 renders a 12-byte nonce whose last 8 bytes are n: every signed
// save carries a fresh one, as the web client's do.
func nonceB64(salt uint32, n uint64) string {
	var b [12]byte
	b[0], b[1], b[2], b[3] = byte(salt>>24), byte(salt>>16), byte(salt>>8), byte(salt)
	for i := range 8 {
		b[4+i] = byte(n >> (56 - 8*i))
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// envelope is the data member of a save: the web client's envelope.
func envelope(ct, nonce string) string {
	return `{"encrypted":"` + ct + `","nonce":"` + nonce + `"}`
}

// saveBody is a complete save request body.
func saveBody(user, key, data string) []byte {
	b, err := json.Marshal(struct {
		UserID     string `json:"userId"`
		StorageKey string `json:"storageKey"`
		Data       string `json:"data"`
	}{user, key, data})
	if err != nil {
		panic(err) // strings always marshal
	}
	return b
}

func registerBody(user string) []byte {
	return []byte(`{"userId":"` + user + `"}`)
}

func restorePath(user, key string) string {
	return "/api/backup?userId=" + user + "&storageKey=" + key
}

// sizeLabel names a payload size in decimal units, as the tables do.
func sizeLabel(size int) string {
	switch {
	case size == 0:
		return "-"
	case size%1_000_000 == 0:
		return fmt.Sprintf("%dMB", size/1_000_000)
	case size%1000 == 0:
		return fmt.Sprintf("%dKB", size/1000)
	}
	return fmt.Sprintf("%dB", size)
}

func parseSize(s string) (int, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := 1
	switch {
	case strings.HasSuffix(s, "MB"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "MB")
	case strings.HasSuffix(s, "KB"):
		mult, s = 1000, strings.TrimSuffix(s, "KB")
	case strings.HasSuffix(s, "B"):
		s = strings.TrimSuffix(s, "B")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (use e.g. 1KB, 100KB, 1MB)", s)
	}
	return n * mult, nil
}
