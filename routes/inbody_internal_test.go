package routes

import (
	"encoding/json/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// decodeInPlace decodes body as decodeBody does.
func decodeInPlace(body []byte, dst bodyBound) error {
	if err := json.Unmarshal(body, dst, json.RejectUnknownMembers(true)); err != nil {
		return err
	}
	dst.bind(body)
	return nil
}

// FuzzUnquoteInPlace: a string member decoded in place reads exactly as
// encoding/json decodes it into a string, and is refused exactly when that
// is (escapes, surrogates, invalid UTF-8, other kinds).
func FuzzUnquoteInPlace(f *testing.F) {
	for _, s := range []string{`"plain"`, `""`, `"{\"encrypted\":\"QQ==\",\"nonce\":\"AAECAwQFBgcICQoL\"}"`,
		`"\\\/\b\f\n\r\t\u0041\u00e9\u20ac"`, `"\ud83d\ude00 pair"`, `"\ud800 lone"`, `"\udc00\ud800"`, `"\ud800\u0041"`,
		`"\ud800\ud800\udc00"`, "\"\xff\"", `"é"`, `null`, `7`, `[]`, `"\u0000"`, `"a\"`, `"\ud83d\ude00"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, member string) {
		body := `{"version":1,"data":` + member + `}`
		var want struct {
			Version int64  `json:"version"`
			Data    string `json:"data"`
		}
		werr := json.Unmarshal([]byte(body), &want, json.RejectUnknownMembers(true))
		var got v2SaveRequest
		gerr := decodeInPlace([]byte(body), &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: in place err %v, as a string err %v", member, gerr, werr)
		}
		if werr == nil && got.Data.String() != want.Data {
			t.Fatalf("%q: in place %q, as a string %q", member, got.Data.String(), want.Data)
		}
		if werr != nil && describeJSONError(gerr) != describeJSONError(werr) {
			t.Fatalf("%q: in place %q, as a string %q", member, describeJSONError(gerr), describeJSONError(werr))
		}
	})
}

// TestSaveDataIsNotCopied: decoding a save keeps its data where it lies in
// the body; a copy of its own would double every upload's memory.
func TestSaveDataIsNotCopied(t *testing.T) {
	data := `{"encrypted":"` + strings.Repeat("A", 1<<20) + `","nonce":"AAECAwQFBgcICQoL"}`
	body := []byte(`{"userId":"` + strings.Repeat("a", 64) + `","storageKey":"` + strings.Repeat("b", 64) +
		`","data":` + strconv.Quote(data) + `}`)
	var req saveRequest
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := decodeInPlace(body, &req); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if req.Data.String() != data {
		t.Fatal("the data decoded in place is not the data sent")
	}
	if p := uintptr(unsafe.Pointer(unsafe.StringData(req.Data.String()))); p < uintptr(unsafe.Pointer(&body[0])) ||
		p >= uintptr(unsafe.Pointer(&body[0]))+uintptr(len(body)) {
		t.Fatal("the data does not lie in the body")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(body))/8 {
		t.Fatalf("decoding a %d-byte save allocated %d bytes", len(body), n)
	}
}
