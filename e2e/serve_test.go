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
	// Without a signing secret the operator is warned once, on the console
	// (besides the log's JSON line on standard output).
	if n := strings.Count(p.output(), "Warning: DAILYREPS_HMAC_SECRET is not set"); n != 1 {
		t.Fatalf("%d unsigned-requests warnings on the console, want 1: %s", n, p.output())
	}
	signed := start(t, "", "DAILYREPS_HMAC_SECRET=a-secret-of-sixteen+")
	signed.terminate(10 * time.Second)
	if strings.Contains(signed.output(), "DAILYREPS_HMAC_SECRET is not set") {
		t.Fatalf("warned although a secret is set: %s", signed.output())
	}
}
