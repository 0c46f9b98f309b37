package client

import "testing"

func TestSignMatchesHandComputedHMAC(t *testing.T) {
	// Computed independently with:
	//   printf '1700000000\nGET\n/api/backup?userId=ab&storageKey=cd\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' |
	//     openssl dgst -sha256 -hmac 'test-secret'
	const want = "a111f736826781bc7853042c01427517a6d1cb3632e5edfd9520180313690bec"
	got := Sign([]byte("test-secret"), 1700000000, "GET", "/api/backup?userId=ab&storageKey=cd", nil)
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSignCoversEveryPart(t *testing.T) {
	secret := []byte("s")
	base := Sign(secret, 1, "POST", "/api/backup", []byte(`{}`))
	variants := map[string]string{
		"secret":    Sign([]byte("t"), 1, "POST", "/api/backup", []byte(`{}`)),
		"timestamp": Sign(secret, 2, "POST", "/api/backup", []byte(`{}`)),
		"method":    Sign(secret, 1, "PUT", "/api/backup", []byte(`{}`)),
		"path":      Sign(secret, 1, "POST", "/api/backup?x=1", []byte(`{}`)),
		"body":      Sign(secret, 1, "POST", "/api/backup", []byte(`{ }`)),
	}
	for part, sig := range variants {
		if sig == base {
			t.Errorf("changing the %s does not change the signature", part)
		}
	}
}

func TestBodyHashOfEmptyBody(t *testing.T) {
	const sha256OfNothing = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got := BodyHash(nil); got != sha256OfNothing {
		t.Errorf("BodyHash(nil) = %s", got)
	}
}
