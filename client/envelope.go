package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

const (
	nonceSize = 12
	tagSize   = 16
)

var (
	// ErrMalformedEnvelope means the data is not a sealed backup at all.
	ErrMalformedEnvelope = errors.New("client: backup data is not a sealed envelope")

	// ErrDecrypt means the key is wrong or the sealed data was altered;
	// AES-GCM cannot tell these apart, and neither should the caller.
	ErrDecrypt = errors.New("client: cannot decrypt backup: wrong key or altered data")
)

// envelope is the shape of the data string. Its member order is part of the
// protocol (the order in which the web app's JSON.stringify writes them).
type envelope struct {
	Encrypted string `json:"encrypted"`
	Nonce     string `json:"nonce"`
}

// Seal encrypts plaintext under key with a fresh random nonce and returns
// the data string that the server stores.
func Seal(key, plaintext []byte) (string, error) {
	nonce := make([]byte, nonceSize)
	// crypto/rand.Read never returns an error: it aborts the program instead.
	_, _ = rand.Read(nonce)
	return sealWithNonce(key, nonce, plaintext)
}

// sealWithNonce exists for the fixed-nonce test vectors; reusing a nonce
// under one key breaks AES-GCM, so it must never be exported.
func sealWithNonce(key, nonce, plaintext []byte) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	return encodeEnvelope(aead.Seal(nil, nonce, plaintext, nil), nonce), nil
}

// encodeEnvelope writes the JSON by hand because the standard base64
// alphabet never needs JSON escaping, and scanning a megabyte of it for
// characters to escape costs more than the encryption.
func encodeEnvelope(sealed, nonce []byte) string {
	const head, middle, tail = `{"encrypted":"`, `","nonce":"`, `"}`
	enc := base64.StdEncoding
	out := make([]byte, 0, len(head)+enc.EncodedLen(len(sealed))+len(middle)+enc.EncodedLen(len(nonce))+len(tail))
	out = append(out, head...)
	out = enc.AppendEncode(out, sealed)
	out = append(out, middle...)
	out = enc.AppendEncode(out, nonce)
	out = append(out, tail...)
	return string(out)
}

// Open decrypts a data string made by Seal or by the web app. Members other
// than encrypted and nonce (the web app may add appId and version) are
// ignored: they are not authenticated, so nothing may depend on them.
func Open(key []byte, data string) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		return nil, ErrMalformedEnvelope
	}
	nonce, err := base64.StdEncoding.DecodeString(env.Nonce)
	if err != nil || len(nonce) != nonceSize {
		return nil, ErrMalformedEnvelope
	}
	sealed, err := base64.StdEncoding.DecodeString(env.Encrypted)
	if err != nil || len(sealed) < tagSize {
		return nil, ErrMalformedEnvelope
	}
	plaintext, err := aead.Open(nil, nonce, sealed, nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("client: encryption key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cipher.NewGCM(block)
}
