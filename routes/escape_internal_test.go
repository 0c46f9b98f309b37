package routes

import (
	"math/rand/v2"
	"testing"
)

func TestNextEscape(t *testing.T) {
	naive := func(s string, i int) int {
		for ; i < len(s); i++ {
			if mustEscape(s[i]) {
				return i
			}
		}
		return len(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("AZaz09+/=\"\\\x00\x1f\x20\x7f\x80\xa2\xff{}:,")
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(8) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte(r.IntN(256))
			}
		}
		s := string(b)
		for i := 0; i <= len(s); i++ {
			if got, want := nextEscape(s, i), naive(s, i); got != want {
				t.Fatalf("nextEscape(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	}
}
