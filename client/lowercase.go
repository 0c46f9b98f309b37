package client

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// lowerJS lower-cases s exactly as JavaScript's String.prototype.toLowerCase
// does, since the web app derives every id from that. It is Unicode's
// default case conversion: unicode.ToLower for each rune, except for the
// two full mappings that SpecialCasing.txt applies in every locale:
//
//   - U+0130 (capital I with a dot above) becomes "i" and U+0307, keeping
//     the dot, where unicode.ToLower drops it;
//   - capital sigma becomes final "ς" when it ends a word (the Final_Sigma
//     condition), and "σ" otherwise.
//
// Invalid UTF-8 becomes U+FFFD, as TextEncoder treats a lone surrogate.
// client/testdata/js-lowercase.json, made by Node, checks every code point.
func lowerJS(s string) string {
	if !strings.ContainsAny(s, "\u0130\u03a3") {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i, r := range s {
		switch r {
		case '\u0130':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s[:i], s[i+len("Σ"):]) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is the Final_Sigma condition (Unicode §3.13) for a sigma
// between before and after: a cased letter precedes it and none follows it,
// looking through case-ignorable characters on both sides. It follows ICU,
// which V8 calls, where a character that is both cased and case-ignorable
// (a modifier letter such as ʰ) is looked through.
func finalSigma(before, after string) bool {
	return casedLetterBefore(before) && !casedLetterAfter(after)
}

func casedLetterBefore(s string) bool {
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		if !caseIgnorable(r) {
			return cased(r)
		}
		s = s[:len(s)-size]
	}
	return false
}

func casedLetterAfter(s string) bool {
	for _, r := range s {
		if !caseIgnorable(r) {
			return cased(r)
		}
	}
	return false
}

// cased is Unicode's Cased property.
func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// caseIgnorable is Unicode's Case_Ignorable property: the marks, format
// characters and modifiers, and the punctuation that Word_Break treats as
// inside a word (MidLetter, MidNumLet, Single_Quote).
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '\u00b7', '\u0387', '\u055f', '\u05f4', '\u2018', '\u2019', '\u2024', '\u2027',
		'\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
