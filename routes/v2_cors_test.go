package routes_test

import (
	"net/http"
	"testing"
)

// A page on an allowed origin may send v2's PUT and Authorization; a
// foreign origin still gets nothing and cannot change anything.
func TestV2CORS(t *testing.T) {
	s := corsServer(t)
	u := newV2User(t, "cors-account", "pw")
	v2Register(t, s, u)
	id := newBackupID()
	pf := preflight("/api/v2/backups/"+id, appOrigin, "PUT")
	pf.Header["Access-Control-Request-Headers"] = "authorization, content-type"
	r := s.Do(pf)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
		!listed(r.Header.Get("Access-Control-Allow-Methods"), "PUT") || !listed(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	put := withHeader(putReq(u.token, id, 1, u.sealData(t, id, 1, "from the app")), "Origin", appOrigin)
	if r := s.Do(put); r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("PUT from the allowed origin: %d %v", r.Status, r.Header)
	}
	before := s.Snapshot()
	put = withHeader(putReq(u.token, id, 2, u.sealData(t, id, 2, "from elsewhere")), "Origin", foreignOrigin)
	expectError(t, s.Do(put), http.StatusForbidden)
	s.Unchanged(before)
}
