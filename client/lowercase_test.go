package client

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// jsLowercaseTable is client/testdata/js-lowercase.json, which
// web/tools/js-lowercase-table.mjs writes from what Node's toLowerCase does.
type jsLowercaseTable struct {
	Unicode   string `json:"unicode"`
	Usernames []struct {
		Username  string `json:"username"`
		Lowercase string `json:"lowercase"`
		UserID    string `json:"userId"`
	} `json:"usernames"`
	Mappings []jsMapping `json:"mappings"`
	Sigma    struct {
		Cased     [][2]rune `json:"cased"`
		Ignorable [][2]rune `json:"ignorable"`
	} `json:"sigma"`
	Unassigned [][2]rune `json:"unassigned"`
}

func loadJSLowercaseTable(t *testing.T) *jsLowercaseTable {
	t.Helper()
	raw, err := os.ReadFile("testdata/js-lowercase.json")
	if err != nil {
		t.Fatal(err)
	}
	var table jsLowercaseTable
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatalf("parse the table: %v", err)
	}
	if len(table.Usernames) == 0 || len(table.Mappings) == 0 || len(table.Sigma.Cased) == 0 || len(table.Sigma.Ignorable) == 0 {
		t.Fatal("the table is missing a section; regenerate it with node web/tools/js-lowercase-table.mjs")
	}
	return &table
}

// jsMapping is a code point and its lower case, written [cp, [lower...]].
type jsMapping struct {
	CodePoint rune
	Lower     []rune
}

func (m *jsMapping) UnmarshalJSON(data []byte) error {
	return json.Unmarshal(data, &[]any{&m.CodePoint, &m.Lower})
}

// mismatches stops a test from printing a million lines when a rule breaks.
type mismatches struct {
	t     *testing.T
	count int
}

func (m *mismatches) report(format string, args ...any) {
	m.t.Helper()
	m.count++
	if m.count <= 20 {
		m.t.Errorf(format, args...)
	}
}

func (m *mismatches) done() {
	if m.count > 20 {
		m.t.Errorf("... %d mismatches in all", m.count)
	}
}

// comparedCodePoints lists the code points that a Go string can hold and
// that the table's Unicode version assigns: characters newer than the table
// are compared once a Node that knows them regenerates it.
func comparedCodePoints(table *jsLowercaseTable) []rune {
	unassigned := make([]bool, unicode.MaxRune+1)
	for _, r := range table.Unassigned {
		for cp := r[0]; cp <= r[1]; cp++ {
			unassigned[cp] = true
		}
	}
	var out []rune
	for cp := rune(0); cp <= unicode.MaxRune; cp++ {
		if utf8.ValidRune(cp) && !unassigned[cp] {
			out = append(out, cp)
		}
	}
	return out
}

func TestUsernamesLowercaseAsInJavaScript(t *testing.T) {
	table := loadJSLowercaseTable(t)
	for _, u := range table.Usernames {
		if got := normalizeUsername(u.Username); got != u.Lowercase {
			t.Errorf("%+q lower-cases to %+q, JavaScript gives %+q", u.Username, got, u.Lowercase)
		}
		if got := UserID(u.Username); got != u.UserID {
			t.Errorf("UserID(%+q) = %s, JavaScript gives %s", u.Username, got, u.UserID)
		}
	}
}

func TestEveryCodePointLowercasesAsInJavaScript(t *testing.T) {
	table := loadJSLowercaseTable(t)
	t.Logf("table from Unicode %s, Go has Unicode %s", table.Unicode, unicode.Version)
	want := map[rune]string{}
	for _, m := range table.Mappings {
		want[m.CodePoint] = string(m.Lower)
	}
	m := &mismatches{t: t}
	for _, cp := range comparedCodePoints(table) {
		expected, ok := want[cp]
		if !ok {
			expected = string(cp)
		}
		if got := lowerJS(string(cp)); got != expected {
			m.report("U+%04X lower-cases to %+q, JavaScript gives %+q", cp, got, expected)
		}
	}
	m.done()
}

// The final-sigma rule depends on which neighbours count as cased and which
// are looked through; probing each code point between a letter and a sigma
// compares the two classifications without naming them in the test.
func TestFinalSigmaContextAsInJavaScript(t *testing.T) {
	table := loadJSLowercaseTable(t)
	class := map[rune]string{}
	for name, ranges := range map[string][][2]rune{"cased": table.Sigma.Cased, "ignorable": table.Sigma.Ignorable} {
		for _, r := range ranges {
			for cp := r[0]; cp <= r[1]; cp++ {
				class[cp] = name
			}
		}
	}
	m := &mismatches{t: t}
	for _, cp := range comparedCodePoints(table) {
		want := class[cp]
		if want == "" {
			want = "other"
		}
		if got := sigmaClass(string(cp)); got != want {
			m.report("U+%04X acts as %s next to a sigma, in JavaScript as %s", cp, got, want)
		}
	}
	m.done()
}

// sigmaClass is the probe that web/tools/js-lowercase-table.mjs runs.
func sigmaClass(x string) string {
	if []rune(lowerJS("AΣ" + x))[1] == 'σ' {
		return "cased"
	}
	if strings.HasSuffix(lowerJS("A"+x+"Σ"), "σ") {
		return "other"
	}
	return "ignorable"
}

func TestLowercaseInvalidUTF8(t *testing.T) {
	// Both the fast path and the sigma path replace each bad byte alike.
	for in, want := range map[string]string{
		"A\xffB":   "a\ufffdb",
		"ΑΣ\xff":   "ας\ufffd",
		"\xffΣ":    "\ufffdσ",
		"İ\xc3":    "i\u0307\ufffd",
		"\xe2\x82": "\ufffd\ufffd",
	} {
		if got := lowerJS(in); got != want {
			t.Errorf("lowerJS(%+q) = %+q, want %+q", in, got, want)
		}
	}
}
