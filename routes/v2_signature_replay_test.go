package routes_test

import (
	"net/http"
	"testing"
)

// Requests of protocol v2 name no user: the session travels in the
// Authorization header, which the signature does not cover. Two accounts
// listing their backups in the same second sign the very same request; the
// second must not be refused as a replay of the first. A replay of one
// session's request is still refused.
func TestSignatureReplayIsPerSession(t *testing.T) {
	s := signingServer(t)
	now := s.Clock.Now().Unix()
	a, b := newV2User(t, "signed-a", "password a"), newV2User(t, "signed-b", "password b")
	for _, u := range []*v2User{a, b} {
		r := s.Do(signed(t, testSecret, now, postReq("/api/v2/register", u.registerBody())))
		if r.Status != http.StatusOK {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		u.token = sessionOf(t, r)
	}
	listA := signed(t, testSecret, now, getReq(a.token, "/api/v2/backups"))
	listB := signed(t, testSecret, now, getReq(b.token, "/api/v2/backups"))
	if listA.Header["X-Signature"] != listB.Header["X-Signature"] {
		t.Fatal("the two requests differ in more than their session: the test proves nothing")
	}
	expectStatus(t, s.Do(listA), http.StatusOK)
	expectStatus(t, s.Do(listB), http.StatusOK)
	expectError(t, s.Do(listA), http.StatusUnauthorized)
	expectError(t, s.Do(listB), http.StatusUnauthorized)
}
