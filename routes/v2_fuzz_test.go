package routes_test

import (
	"encoding/json/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dailyreps/backup/servertest"
)

// fuzzV2 is the protocol v2 part of a fuzz server: one account, signed
// in, with one backup at version 1.
type fuzzV2 struct {
	s      *servertest.Server
	u      *v2User
	backup string
	newest int64
}

func newFuzzV2(f *testing.F) *fuzzV2 {
	s := fuzzServer(f)
	u := newV2User(fuzzTB{f}, "fuzz-account", "pw")
	v2Register(fuzzTB{f}, s, u)
	fz := &fuzzV2{s: s, u: u, backup: strings.Repeat("f", 32), newest: 1}
	v2Save(fuzzTB{f}, s, u, fz.backup, 1, "x")
	return fz
}

// FuzzV2SaveBody sends arbitrary bodies to PUT /api/v2/backups/{id} under a
// live session and compares the answer with the contract restated
// (docs/protocol-v2.md): never a 5xx, refusals in the error shape with
// nothing stored, and an accepted save restores byte for byte.
func FuzzV2SaveBody(f *testing.F) {
	fz := newFuzzV2(f)
	env := `{"v":2,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`
	for _, seed := range []string{
		`{"version":2,"data":` + strconv.Quote(env) + `}`,
		`{"version":3,"data":` + strconv.Quote(env) + `}`,
		`{"version":1,"data":` + strconv.Quote(env) + `}`,
		`{"version":2,"data":` + strconv.Quote(`{"v":2,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA==","z":"gzip"}`) + `}`,
		`{"version":2.0,"data":` + strconv.Quote(env) + `}`,
		`{"version":"2","data":` + strconv.Quote(env) + `}`,
		`{"version":2,"data":` + strconv.Quote(envelope(16, 'a')) + `}`,
		`{"version":2,"data":` + strconv.Quote(`{"v":2,"nonce":"AAECAwQFBgcICQoL","ct":"`+strings.Repeat("A", 300)+`"}`) + `}`,
		`{"version":2,"data":` + strconv.Quote(`{"v":2,"v":2,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`) + `}`,
		`{"version":2,"data":` + strconv.Quote(`{"\u0076":2,"nonce":"AAECAwQFBgcICQoL","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`) + `}`,
		`{"version":-1,"data":null}`,
		`{"version":null,"data":` + strconv.Quote(env) + `}`,
		`{"version":9223372036854775808,"data":` + strconv.Quote(env) + `}`,
		`{"Version":2,"data":` + strconv.Quote(env) + `}`,
		`[]`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := fz.s
		before := s.Snapshot()
		r := s.Do(servertest.Request{Method: http.MethodPut, Path: "/api/v2/backups/" + fz.backup, Body: body,
			Header: map[string]string{"Authorization": "Bearer " + fz.u.token}})
		want, data := judgeV2Save(body, fz.newest)
		if r.Status != want {
			t.Fatalf("status %d, the contract says %d, for %q: %s", r.Status, want, body, r.Body)
		}
		if r.Status != http.StatusOK {
			checkErrorShape(t, r)
			s.Unchanged(before)
			return
		}
		fz.newest++
		got := s.Do(getReq(fz.u.token, "/api/v2/backups/"+fz.backup))
		var restored struct {
			Data    string `json:"data"`
			Version int64  `json:"version"`
		}
		if err := json.Unmarshal(got.Body, &restored); err != nil || restored.Data != data || restored.Version != fz.newest {
			t.Fatalf("saved %q as %d, restore gave %d %q", data, fz.newest, got.Status, got.Body)
		}
	})
}

var integer = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// judgeV2Save is the status a v2 save body must get when the newest
// version is newest, and the data it stores.
func judgeV2Save(body []byte, newest int64) (int, string) {
	obj, err := parseJSONObject(body)
	if err != nil {
		return http.StatusBadRequest, ""
	}
	var version int64
	var data string
	for name, v := range obj {
		switch name {
		case "version":
			switch n := v.(type) {
			case nil:
			case jsonNumber:
				if !integer.MatchString(string(n)) {
					return http.StatusBadRequest, ""
				}
				if version, err = strconv.ParseInt(string(n), 10, 64); err != nil {
					return http.StatusBadRequest, ""
				}
			default:
				return http.StatusBadRequest, ""
			}
		case "data":
			s, isString := v.(string)
			if !isString && v != nil {
				return http.StatusBadRequest, ""
			}
			data = s
		default:
			return http.StatusBadRequest, ""
		}
	}
	switch {
	case version < 1 || data == "":
		return http.StatusBadRequest, ""
	case len(data) > fuzzMaxData:
		return http.StatusRequestEntityTooLarge, ""
	case !validV2Data(data):
		return http.StatusBadRequest, ""
	case version != newest+1:
		return http.StatusPreconditionFailed, ""
	}
	return http.StatusOK, data
}

// validV2Data: {"v": 2, "nonce": 12 bytes, "ct": 16 bytes or more,
// "z": "gzip" optional}, base64 canonical, padded, standard and unbroken.
func validV2Data(data string) bool {
	env, err := parseJSONObject([]byte(data))
	if err != nil || env["v"] != jsonNumber("2") {
		return false
	}
	for name, v := range env {
		switch name {
		case "v":
		case "nonce", "ct":
			if _, isString := v.(string); !isString {
				return false
			}
		case "z":
			if v != "gzip" {
				return false
			}
		default:
			return false
		}
	}
	nonce, ok1 := decodeB64(env["nonce"].(string))
	ct, ok2 := decodeB64(env["ct"].(string))
	return ok1 && ok2 && len(nonce) == 12 && len(ct) >= 16
}

// FuzzV2LoginBody sends arbitrary bodies to POST /api/v2/login: only the
// account's exact ids sign in, every other well-formed request is the one
// 401, and nothing answers a 5xx or leaves the error shape.
func FuzzV2LoginBody(f *testing.F) {
	fz := newFuzzV2(f)
	u := fz.u
	for _, seed := range []string{
		`{"accountId":"` + u.accountID + `","auth":"` + u.password.auth + `"}`,
		`{"accountId":"` + strings.ToUpper(u.accountID) + `","auth":"` + strings.ToUpper(u.password.auth) + `"}`,
		`{"accountId":"` + u.accountID + `","auth":"` + u.recoveryAuth + `"}`,
		`{"accountId":"` + fuzzUser + `","auth":"` + u.password.auth + `"}`,
		`{"accountId":"` + u.accountID + `"}`,
		`{"accountId":"` + u.accountID + `","auth":"` + u.password.auth + `","auth":"` + u.password.auth + `"}`,
		`{"accountId":"` + u.accountID + `","\u0061uth":"` + u.password.auth + `"}`,
		`{"accountId":null,"auth":1}`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := fz.s.Snapshot()
		r := fz.s.Do(postReq("/api/v2/login", body))
		want := judgeV2Login(body, u)
		if r.Status != want {
			t.Fatalf("status %d, the contract says %d, for %q: %s", r.Status, want, body, r.Body)
		}
		if r.Status != http.StatusOK {
			checkErrorShape(t, r)
			fz.s.Unchanged(before)
			return
		}
		sessionOf(t, r)
	})
}

func judgeV2Login(body []byte, u *v2User) int {
	obj, err := parseJSONObject(body)
	if err != nil {
		return http.StatusBadRequest
	}
	got := map[string]string{}
	for name, v := range obj {
		s, isString := v.(string)
		if !isString && v != nil || name != "accountId" && name != "auth" {
			return http.StatusBadRequest
		}
		got[name] = s
	}
	if !isHexID(got["accountId"]) || !isHexID(got["auth"]) {
		return http.StatusBadRequest
	}
	if !strings.EqualFold(got["accountId"], u.accountID) || !strings.EqualFold(got["auth"], u.password.auth) {
		return http.StatusUnauthorized
	}
	return http.StatusOK
}
