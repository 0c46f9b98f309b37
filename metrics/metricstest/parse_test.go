package metricstest

import (
	"math"
	"testing"
)

func TestParseAcceptsWellFormed(t *testing.T) {
	text := "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\n" +
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n# TYPE g gauge\ng -1e+06\n"
	s, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 || s[0].Labels["y"] != "q\"\\\n" || s[0].Value != 3 || s[4].Value != -1e6 {
		t.Fatalf("parsed %+v", s)
	}
	if v, ok := Value(s, "h_bucket", "le", "+Inf"); !ok || v != 2 {
		t.Fatalf("Value = %v, %v", v, ok)
	}
	if s, _ := Parse("# TYPE g gauge\ng +Inf\n"); !math.IsInf(s[0].Value, 1) {
		t.Fatal("+Inf")
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, text := range []string{
		"a 1\n",                                    // no TYPE
		"# TYPE a counter\na{x=\"1} 1\n",           // unterminated label
		"# TYPE a counter\na{x=1} 1\n",             // unquoted
		"# TYPE a counter\na 1 2 3\n",              // junk value
		"# TYPE a counter\na{x=\"\\t\"} 1\n",       // bad escape
		"# TYPE a counter\n# TYPE a counter\n",     // declared twice
		"# TYPE a nonsense\n",                      // unknown type
		"# TYPE a counter\n\na 1\n",                // empty line
		"# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n", // duplicate label
		"# TYPE a counter\na_bucket 1\n",           // suffix of a non-histogram
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("accepted %q", text)
		}
	}
}
