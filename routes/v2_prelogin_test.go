package routes_test

import (
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

func prelogin(t *testing.T, s doer, accountID string) map[string]any {
	t.Helper()
	r := s.Do(postReq("/api/v2/prelogin", map[string]string{"accountId": accountID}))
	if r.Status != http.StatusOK {
		t.Fatalf("prelogin: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if len(m) != 1 {
		t.Fatalf("prelogin answered more than kdf: %s", r.Body)
	}
	kdf, _ := m["kdf"].(map[string]any)
	if len(kdf) != 3 {
		t.Fatalf("kdf is not {name, iterations, salt}: %s", r.Body)
	}
	return kdf
}

// A registered account gets its own parameters back, exactly as sent.
func TestV2PreloginAnswersTheAccountsKDF(t *testing.T) {
	s := newServer(t)
	u := newV2User(t, "prelogin-alice", "pw")
	v2Register(t, s, u)
	got := prelogin(t, s, u.accountID)
	want := map[string]any{"name": "PBKDF2-SHA256", "iterations": float64(600_000), "salt": u.password.kdf["salt"]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prelogin = %v, want %v", got, want)
	}
	// The accountId in capitals names the same account.
	if got := prelogin(t, s, strings.ToUpper(u.accountID)); !reflect.DeepEqual(got, want) {
		t.Fatalf("prelogin in capitals = %v, want %v", got, want)
	}
}

// An unknown account gets a fake salt: 16 bytes, the same every time, one
// per name, and the server's current iterations, in the same shape as a
// real answer.
func TestV2PreloginFakeSalt(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.KDFIterations = 750_000 })
	a, b := newV2User(t, "nobody-a", "pw"), newV2User(t, "nobody-b", "pw")
	fa := prelogin(t, s, a.accountID)
	if fa["name"] != "PBKDF2-SHA256" || fa["iterations"] != float64(750_000) {
		t.Fatalf("fake kdf = %v", fa)
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(fa["salt"].(string))
	if err != nil || len(salt) != 16 {
		t.Fatalf("fake salt %v is not 16 bytes of base64", fa["salt"])
	}
	if again := prelogin(t, s, a.accountID); !reflect.DeepEqual(again, fa) {
		t.Fatalf("the fake answer changed: %v then %v", fa, again)
	}
	if fb := prelogin(t, s, b.accountID); fb["salt"] == fa["salt"] {
		t.Fatal("two unknown accounts share a fake salt")
	}
	// Registering the name replaces the fake with the account's salt.
	a.password = a.passwordMaterial(t, "pw", 0)
	v2Register(t, s, a)
	if got := prelogin(t, s, a.accountID)["salt"]; got != a.password.kdf["salt"] || got == fa["salt"] {
		t.Fatalf("after registration prelogin salt = %v", got)
	}
}

// The fake salt comes from the pepper: another server cannot predict it.
func TestV2PreloginFakeSaltNeedsThePepper(t *testing.T) {
	u := newV2User(t, "nobody-c", "pw")
	one := prelogin(t, newServer(t), u.accountID)
	other := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.Pepper = [][]byte{[]byte(strings.Repeat("p", 32))}
	}))
	if two := prelogin(t, other, u.accountID); two["salt"] == one["salt"] {
		t.Fatal("two peppers give the same fake salt")
	}
}
