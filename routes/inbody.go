package routes

import (
	"bytes"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"reflect"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// inBody is a JSON string member of a request body decoded in place: its
// value is unescaped where it lies in the body and points there, instead of
// being a copy of its own. A save's data is nearly the whole body (up to
// megabytes), so decoded the usual way every upload would hold it twice and
// leave the second copy to the collector (BENCHMARKS.md, run 4 and
// "Uploads' memory").
//
// Decoding records where the token lies (the decoder's input offsets, not a
// pointer into its buffer); bind unescapes it once the whole body has been
// checked. The body must then stay unchanged while the value is in use: it is
// the request's own buffer, which nothing else writes. The value lives no
// longer than the request's handler: a large body is unmapped when the
// handler returns (hooks.ReadBody), so what outlives it must be a copy (the
// database drivers copy the values they are given).
type inBody struct {
	start, end int64 // the quoted token's offsets in the body; end 0: null or absent
	value      string
}

var stringType = reflect.TypeFor[string]()

// UnmarshalJSONFrom takes what a string member takes (a string, or null for
// none) and refuses the rest as a string member would.
func (s *inBody) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		*s = inBody{}
		return nil
	case '"':
		end := dec.InputOffset()
		*s = inBody{start: end - int64(len(v)), end: end}
		return nil
	}
	return &json.SemanticError{JSONKind: v.Kind(), GoType: stringType}
}

// bind unescapes the member in place in body, the bytes it was decoded from.
func (s *inBody) bind(body []byte) {
	if s.end == 0 {
		return
	}
	n := unquoteInPlace(body[s.start:s.end])
	if n > 0 {
		s.value = unsafe.String(&body[s.start], n)
	}
}

// String is the member's value.
func (s *inBody) String() string { return s.value }

// bodyBound is a request some of whose members point into its body.
type bodyBound interface{ bind(body []byte) }

// unquoteInPlace writes the value of tok, a JSON string token the decoder
// has validated (quotes included), over tok's first bytes and returns its
// length. Every escape is at least as long as what it stands for, so the
// write never overtakes the read.
func unquoteInPlace(tok []byte) int {
	w, r, last := 0, 1, len(tok)-1
	for r < last {
		i := bytes.IndexByte(tok[r:last], '\\')
		if i < 0 {
			w += copy(tok[w:], tok[r:last])
			break
		}
		w += copy(tok[w:], tok[r:r+i])
		r += i
		c := tok[r+1]
		r += 2
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			rn := hex4(tok[r:])
			r += 4
			if utf16.IsSurrogate(rn) {
				lo := utf8.RuneError
				if r+6 <= last && tok[r] == '\\' && tok[r+1] == 'u' {
					lo = hex4(tok[r+2:])
				}
				if rn = utf16.DecodeRune(rn, lo); rn != utf8.RuneError {
					r += 6
				}
			}
			w += utf8.EncodeRune(tok[w:], rn)
			continue
		}
		tok[w] = c // '"', '\\' and '/' stand for themselves
		w++
	}
	return w
}

func hex4(b []byte) rune {
	var n rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		n = n<<4 | rune(c)
	}
	return n
}
