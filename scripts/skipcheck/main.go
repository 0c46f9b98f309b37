// Command skipcheck reads the event streams of `go test -json` (as
// gotestsum's --jsonfile writes them), lists every skipped test with the
// reason it gave, and, with -strict, exits 1 when a skip is not on the
// allowlist: in CI a green run must not hide a test that did not run.
//
//	skipcheck [-strict] -allow FILE EVENTS.json...
//
// The allowlist holds one entry a line, "<package> <test> <text>", where a
// test also covers its subtests and <text> must appear in what the skipped
// test printed (its t.Skip message); '#' starts a comment, which each entry
// needs above it to say why the skip is allowed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	strict := flag.Bool("strict", false, "exit 1 on a skip not on the allowlist")
	allowPath := flag.String("allow", "", "the allowlist file")
	flag.Parse()
	if *allowPath == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: skipcheck [-strict] -allow FILE EVENTS.json...")
		os.Exit(2)
	}
	allow, err := readAllowlist(*allowPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	var skips []skip
	for _, path := range flag.Args() {
		s, err := readSkips(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "skipcheck:", err)
			os.Exit(2)
		}
		skips = append(skips, s...)
	}
	os.Exit(report(os.Stdout, skips, allow, *strict))
}

// report prints the skips and returns the exit code.
func report(w io.Writer, skips []skip, allow []entry, strict bool) int {
	var unlisted int
	for _, s := range skips {
		verdict := "allowed"
		if !allowed(s, allow) {
			verdict = "NOT ON THE ALLOWLIST"
			unlisted++
		}
		fmt.Fprintf(w, "skipped: %s %s (%s): %s\n", s.pkg, s.test, verdict, s.reason())
	}
	fmt.Fprintf(w, "%d tests skipped, %d of them not on the allowlist\n", len(skips), unlisted)
	if unlisted > 0 && strict {
		fmt.Fprintln(w, "FAIL: tests skipped that must run here")
		return 1
	}
	return 0
}

type skip struct {
	pkg, test string
	output    []string
}

// reason is what the test printed, without go test's own status lines.
func (s skip) reason() string {
	var lines []string
	for _, l := range s.output {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, " | ")
}

type event struct {
	Action, Package, Test, Output string
}

// readSkips returns the tests that ended skipped in one event stream.
func readSkips(path string) ([]skip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	output := map[[2]string][]string{}
	var skips []skip
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // go test's own non-JSON lines (build errors) pass through
		}
		if e.Test == "" {
			continue
		}
		k := [2]string{e.Package, e.Test}
		switch e.Action {
		case "output":
			output[k] = append(output[k], e.Output)
		case "skip":
			skips = append(skips, skip{pkg: e.Package, test: e.Test, output: output[k]})
			delete(output, k)
		case "pass", "fail":
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sort.Slice(skips, func(i, j int) bool {
		return skips[i].pkg+" "+skips[i].test < skips[j].pkg+" "+skips[j].test
	})
	return skips, nil
}

type entry struct{ pkg, test, text string }

func readAllowlist(path string) ([]entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []entry
	commented := false
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			commented = false
			continue
		case strings.HasPrefix(line, "#"):
			commented = true
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want <package> <test> <text of the skip message>", path, n+1)
		}
		if !commented {
			return nil, fmt.Errorf("%s:%d: an entry needs a comment above it saying why the skip is allowed", path, n+1)
		}
		entries = append(entries, entry{pkg: fields[0], test: fields[1], text: strings.Join(fields[2:], " ")})
	}
	if len(entries) == 0 {
		return nil, errors.New(path + ": no entries")
	}
	return entries, nil
}

func allowed(s skip, allow []entry) bool {
	for _, e := range allow {
		if s.pkg != e.pkg || (s.test != e.test && !strings.HasPrefix(s.test, e.test+"/")) {
			continue
		}
		if strings.Contains(strings.Join(s.output, ""), e.text) {
			return true
		}
	}
	return false
}
