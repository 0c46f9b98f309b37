package v2crypto_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/dailyreps/backup/client"
	"github.com/dailyreps/backup/client/v2crypto"
)

// The cost of one password guess for each attacker, as SECURITY.md reports
// it. Every benchmark does what the attacker does per guess, against
// material made from a password that is never guessed, so that no guess
// ends the loop early. They run only when asked for:
//
//	go test -run '^$' -bench Guess -cpu 1,2 -count 3 ./client/v2crypto/
//
// With -cpu 1 ns/op is one core's cost of a guess; with -cpu 2 the guesses
// run in parallel and 1e9/(ns/op) is both cores' rate.

const (
	benchUser     = "alice"
	benchPassword = "the real password, never guessed"
)

// guesses feeds each parallel worker distinct candidate passwords.
func guesses(b *testing.B, try func(candidate string) bool) {
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if try("guess-" + strconv.FormatInt(n.Add(1), 10)) {
				b.Error("a wrong guess matched")
			}
		}
	})
}

// v1: whoever sees a storageKey (the live operator, a TLS-terminating
// proxy) tests a guess with one SHA-256 of userId + password.
func BenchmarkGuessV1StorageKey(b *testing.B) {
	userID := client.UserID(benchUser)
	target, _ := hex.DecodeString(client.StorageKey(userID, benchPassword))
	guesses(b, func(p string) bool {
		sum := sha256.Sum256([]byte(userID + p))
		return bytes.Equal(sum[:], target)
	})
}

// v1 with the database and the pepper: the stored key is
// HMAC-SHA-256(pepper, "key" + hex(SHA-256(userId + password))).
func BenchmarkGuessV1DatabaseAndPepper(b *testing.B) {
	userID := client.UserID(benchUser)
	pepper := bytes.Repeat([]byte{0x42}, 32)
	keyed := func(storageKey string) []byte {
		m := hmac.New(sha256.New, pepper)
		m.Write([]byte("key" + storageKey))
		return m.Sum(nil)
	}
	target := keyed(client.StorageKey(userID, benchPassword))
	guesses(b, func(p string) bool {
		return hmac.Equal(keyed(client.StorageKey(userID, p)), target)
	})
}

// v1 against the ciphertext alone (a database thief without the pepper):
// PBKDF2 with 100,000 iterations, then an AES-GCM open.
func BenchmarkGuessV1Ciphertext(b *testing.B) {
	key, err := client.EncryptionKey(benchUser, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	sealed := gcmFor(b, key).Seal(nil, nonce, []byte(`{"exercises":[]}`), nil)
	guesses(b, func(p string) bool {
		k, _ := pbkdf2.Key(sha256.New, p, []byte(benchUser), 100_000, 32)
		_, err := gcmFor(b, k).Open(nil, nonce, sealed, nil)
		return err == nil
	})
}

// v2, a database thief: one PBKDF2 of 600,000 iterations, HKDF for the
// wrapping key, and the AES-GCM tag check of the wrapped data key.
func BenchmarkGuessV2WrappedKey(b *testing.B) {
	salt := bytes.Repeat([]byte{1}, v2crypto.SaltSize)
	accountID := client.UserID(benchUser)
	master, err := v2crypto.Master(benchPassword, salt, v2crypto.MinIterations)
	if err != nil {
		b.Fatal(err)
	}
	_, wrap := v2crypto.PasswordKeys(master)
	ad := v2crypto.KeyAD(v2crypto.LabelDataKey, accountID)
	wrapped, err := v2crypto.Seal(wrap, make([]byte, v2crypto.NonceSize), bytes.Repeat([]byte{9}, 32), ad)
	if err != nil {
		b.Fatal(err)
	}
	guesses(b, func(p string) bool {
		m, _ := v2crypto.Master(p, salt, v2crypto.MinIterations)
		_, err := v2crypto.Open(v2crypto.Expand(m, "wrap"), wrapped, ad)
		return err == nil
	})
}

// v2, the live operator or a network observer past TLS, who sees authKey:
// one PBKDF2 of 600,000 iterations and HKDF, compared.
func BenchmarkGuessV2AuthKey(b *testing.B) {
	salt := bytes.Repeat([]byte{1}, v2crypto.SaltSize)
	master, err := v2crypto.Master(benchPassword, salt, v2crypto.MinIterations)
	if err != nil {
		b.Fatal(err)
	}
	target := v2crypto.Expand(master, "auth")
	guesses(b, func(p string) bool {
		m, _ := v2crypto.Master(p, salt, v2crypto.MinIterations)
		return hmac.Equal(v2crypto.Expand(m, "auth"), target)
	})
}

func gcmFor(b *testing.B, key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}
