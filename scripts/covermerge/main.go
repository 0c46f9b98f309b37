// Command covermerge prints the statement coverage of one or more Go cover
// profiles taken together: a statement counts as covered when any profile
// covered it (the SQLite and PostgreSQL runs exercise different code).
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: covermerge PROFILE...")
		os.Exit(2)
	}
	statements := map[string]int{} // block -> number of statements
	covered := map[string]bool{}
	for _, path := range os.Args[1:] {
		if err := read(path, statements, covered); err != nil {
			fmt.Fprintln(os.Stderr, "covermerge:", err)
			os.Exit(1)
		}
	}
	var total, hit int
	for block, n := range statements {
		total += n
		if covered[block] {
			hit += n
		}
	}
	if total == 0 {
		fmt.Fprintln(os.Stderr, "covermerge: no statements")
		os.Exit(1)
	}
	fmt.Printf("statement coverage: %.1f%% of %d statements\n", 100*float64(hit)/float64(total), total)
}

// read adds one profile; lines are "file:start,end statements count".
func read(path string, statements map[string]int, covered map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") || line == "" {
			continue
		}
		var block string
		var n, count int
		if _, err := fmt.Sscanf(line, "%s %d %d", &block, &n, &count); err != nil {
			return fmt.Errorf("%s: %q: %v", path, line, err)
		}
		statements[block] = n
		if count > 0 {
			covered[block] = true
		}
	}
	return sc.Err()
}
