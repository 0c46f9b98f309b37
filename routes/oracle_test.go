package routes_test

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The fuzz targets judge the server against this file, not against the
// decoders the server uses (encoding/json/v2, jsontext, net/url): a bug in
// one of those would otherwise be shared by the server and its judge. It is
// RFC 8259 and the WHATWG-style query syntax written out by hand, strict
// where the contract is: exact member names, no duplicates (compared after
// unescaping), valid UTF-8, no lone surrogates, nothing after the value.

var errOracle = errors.New("oracle: invalid")

// jsonObject is a parsed JSON object: member name to value, where a value
// is a string, nil (null), a jsonNumber, or jsonOther for any other kind.
type jsonObject map[string]any

type jsonOther struct{}

// jsonNumber is a number as written.
type jsonNumber string

// parseJSONObject parses b as one JSON object and nothing else.
func parseJSONObject(b []byte) (jsonObject, error) {
	p := &jsonParser{b: b}
	p.space()
	obj, err := p.object()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errOracle
	}
	return obj, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) space() {
	for p.i < len(p.b) && strings.IndexByte(" \t\r\n", p.b[p.i]) >= 0 {
		p.i++
	}
}

func (p *jsonParser) next(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) object() (jsonObject, error) {
	if !p.next('{') {
		return nil, errOracle
	}
	obj := jsonObject{}
	p.space()
	if p.next('}') {
		return obj, nil
	}
	for {
		p.space()
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := obj[name]; dup {
			return nil, errOracle
		}
		p.space()
		if !p.next(':') {
			return nil, errOracle
		}
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		obj[name] = v
		p.space()
		if p.next('}') {
			return obj, nil
		}
		if !p.next(',') {
			return nil, errOracle
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, errOracle
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		_, err := p.object()
		return jsonOther{}, err
	case c == '[':
		p.i++
		p.space()
		if p.next(']') {
			return jsonOther{}, nil
		}
		for {
			p.space()
			if _, err := p.value(); err != nil {
				return nil, err
			}
			p.space()
			if p.next(']') {
				return jsonOther{}, nil
			}
			if !p.next(',') {
				return nil, errOracle
			}
		}
	case c == 'n':
		return nil, p.word("null")
	case c == 't':
		return jsonOther{}, p.word("true")
	case c == 'f':
		return jsonOther{}, p.word("false")
	default:
		start := p.i
		err := p.number()
		return jsonNumber(p.b[start:p.i]), err
	}
}

func (p *jsonParser) word(w string) error {
	if !strings.HasPrefix(string(p.b[p.i:]), w) {
		return errOracle
	}
	p.i += len(w)
	return nil
}

// number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() error {
	p.next('-')
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.next('0') {
	} else if digits() == 0 {
		return errOracle
	}
	if p.next('.') && digits() == 0 {
		return errOracle
	}
	if p.next('e') || p.next('E') {
		if !p.next('+') {
			p.next('-')
		}
		if digits() == 0 {
			return errOracle
		}
	}
	return nil
}

// str reads a string, unescaped; invalid UTF-8, control characters, bad
// escapes and lone surrogates are errors.
func (p *jsonParser) str() (string, error) {
	if !p.next('"') {
		return "", errOracle
	}
	var out []rune
	for {
		if p.i >= len(p.b) {
			return "", errOracle
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", errOracle
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			out = append(out, r)
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n <= 1 {
				return "", errOracle
			}
			out = append(out, r)
			p.i += n
		}
	}
}

func (p *jsonParser) escape() (rune, error) {
	if p.i+1 >= len(p.b) {
		return 0, errOracle
	}
	c := p.b[p.i+1]
	p.i += 2
	if i := strings.IndexByte(`"\/bfnrt`, c); i >= 0 {
		return rune("\"\\/\b\f\n\r\t"[i]), nil
	}
	if c != 'u' {
		return 0, errOracle
	}
	r, ok := p.hex4()
	if !ok {
		return 0, errOracle
	}
	if !utf16.IsSurrogate(r) {
		return r, nil
	}
	if r >= 0xdc00 || !strings.HasPrefix(string(p.b[p.i:]), `\u`) {
		return 0, errOracle // a low surrogate first, or a high one alone
	}
	p.i += 2
	lo, ok := p.hex4()
	if pair := utf16.DecodeRune(r, lo); ok && pair != utf8.RuneError {
		return pair, nil
	}
	return 0, errOracle
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		d := unhex(c)
		if d < 0 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, true
}

// parseQuery splits a raw query into names and values: pieces between '&'
// (empty ones ignored), name and value split at the first '=', '+' a space,
// '%' followed by two hex digits a byte; a ';' or any other '%' is an error.
func parseQuery(raw string) (map[string][]string, error) {
	q := map[string][]string{}
	for piece := range strings.SplitSeq(raw, "&") {
		if piece == "" {
			continue
		}
		if strings.Contains(piece, ";") {
			return nil, errOracle
		}
		k, v, _ := strings.Cut(piece, "=")
		name, err1 := unescapeQuery(k)
		value, err2 := unescapeQuery(v)
		if err1 != nil || err2 != nil {
			return nil, errOracle
		}
		q[name] = append(q[name], value)
	}
	return q, nil
}

func unescapeQuery(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) {
				return "", errOracle
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi < 0 || lo < 0 {
				return "", errOracle
			}
			b.WriteByte(byte(hi<<4 | lo))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
