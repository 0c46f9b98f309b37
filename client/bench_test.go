package client

import (
	"crypto/rand"
	"testing"
)

func BenchmarkEncryptionKey(b *testing.B) {
	for b.Loop() {
		if _, err := EncryptionKey("alice", "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal1MB(b *testing.B) {
	key := testKey(1)
	plaintext := make([]byte, 1<<20)
	rand.Read(plaintext)
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		if _, err := Seal(key, plaintext); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1MB(b *testing.B) {
	key := testKey(1)
	plaintext := make([]byte, 1<<20)
	rand.Read(plaintext)
	data, err := Seal(key, plaintext)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		if _, err := Open(key, data); err != nil {
			b.Fatal(err)
		}
	}
}
