package e2e

import (
	"strings"
	"testing"
	"time"
)

// The process starts with no configuration but the pepper, serves, and exits
// 0 on SIGTERM.
func TestServeAndTerminate(t *testing.T) {
	p := start(t, "")
	if code := p.terminate(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM: %s", code, p.output())
	}
	if strings.Contains(p.output(), "SELECT") {
		t.Fatalf("SQL printed to the console (dev mode on?): %s", p.output())
	}
}
