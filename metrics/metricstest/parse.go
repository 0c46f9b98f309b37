// Package metricstest reads the Prometheus text format back, strictly
// enough to catch a malformed exposition, so that tests can assert on values.
package metricstest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sample is one line of the exposition.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse reads an exposition. Every sample must belong to a family declared
// with # TYPE before it (histogram samples carry _bucket, _sum or _count),
// and every line must be well formed.
func Parse(text string) ([]Sample, error) {
	types := map[string]string{}
	var out []Sample
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(why string) error { return fmt.Errorf("line %d %q: %s", n+1, line, why) }
		switch {
		case line == "":
			return nil, fail("empty line")
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || !validName(f[2]) {
				return nil, fail("bad TYPE")
			}
			switch f[3] {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				return nil, fail("unknown type")
			}
			if _, dup := types[f[2]]; dup {
				return nil, fail("family declared twice")
			}
			types[f[2]] = f[3]
		case strings.HasPrefix(line, "# HELP "):
			if f := strings.Fields(line); len(f) < 3 || !validName(f[2]) {
				return nil, fail("bad HELP")
			}
		case strings.HasPrefix(line, "#"):
			// A comment.
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, fail(err.Error())
			}
			if family(s.Name, types) == "" {
				return nil, fail("sample before its # TYPE")
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// family is the declared family a sample name belongs to, or "".
func family(name string, types map[string]string) string {
	if _, ok := types[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && types[base] == "histogram" {
			return base
		}
	}
	return ""
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return s, fmt.Errorf("no value")
	}
	s.Name, line = line[:end], line[end:]
	if !validName(s.Name) {
		return s, fmt.Errorf("bad metric name")
	}
	if strings.HasPrefix(line, "{") {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	value, ok := strings.CutPrefix(line, " ")
	if !ok {
		return s, fmt.Errorf("no space before the value")
	}
	v, err := parseValue(value)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// parseLabels reads name="value" pairs up to the closing brace.
func parseLabels(line string, into map[string]string) (string, error) {
	for {
		if rest, ok := strings.CutPrefix(line, "}"); ok {
			return rest, nil
		}
		eq := strings.Index(line, `="`)
		if eq < 0 || !validName(line[:eq]) {
			return "", fmt.Errorf("bad label name")
		}
		name := line[:eq]
		line = line[eq+2:]
		var value strings.Builder
		for {
			if line == "" {
				return "", fmt.Errorf("unterminated label value")
			}
			c := line[0]
			line = line[1:]
			if c == '"' {
				break
			}
			if c == '\\' {
				if line == "" {
					return "", fmt.Errorf("bad escape")
				}
				switch line[0] {
				case '\\':
					value.WriteByte('\\')
				case '"':
					value.WriteByte('"')
				case 'n':
					value.WriteByte('\n')
				default:
					return "", fmt.Errorf("bad escape")
				}
				line = line[1:]
				continue
			}
			if c == '\n' {
				return "", fmt.Errorf("raw newline in a label value")
			}
			value.WriteByte(c)
		}
		if _, dup := into[name]; dup {
			return "", fmt.Errorf("label %s twice", name)
		}
		into[name] = value.String()
		line, _ = strings.CutPrefix(line, ",")
	}
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Value returns the value of the one sample called name whose labels include
// the given name, value pairs; ok is false when there is none.
func Value(samples []Sample, name string, labels ...string) (v float64, ok bool) {
	for _, s := range samples {
		if s.Name == name && hasLabels(s, labels) {
			if ok {
				panic("metricstest: several samples match " + name)
			}
			v, ok = s.Value, true
		}
	}
	return v, ok
}

func hasLabels(s Sample, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if s.Labels[labels[i]] != labels[i+1] {
			return false
		}
	}
	return true
}
