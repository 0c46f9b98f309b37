package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
)

// parseFlyToml reads the TOML subset fly.toml uses (tables, arrays of
// tables, string, number and boolean values) into dotted keys:
// "http_service.checks[0].path".
func parseFlyToml(text string) (map[string]string, error) {
	out := map[string]string{}
	counts := map[string]int{}
	prefix := ""
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(stripComment(line))
		switch {
		case line == "":
		case strings.HasPrefix(line, "[[") && strings.HasSuffix(line, "]]"):
			name := strings.TrimSpace(line[2 : len(line)-2])
			prefix = fmt.Sprintf("%s[%d].", name, counts[name])
			counts[name]++
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := strings.TrimSpace(line[1 : len(line)-1])
			// A sub-table of the last array element ("http_service.checks").
			prefix = name + "."
			for arr, c := range counts {
				if rest, ok := strings.CutPrefix(name, arr+"."); ok {
					prefix = fmt.Sprintf("%s[%d].%s.", arr, c-1, rest)
				}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("fly.toml line %d: %q", n+1, line)
			}
			v = strings.TrimSpace(v)
			if s, err := strconv.Unquote(v); err == nil {
				v = s
			} else if v != "true" && v != "false" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					return nil, fmt.Errorf("fly.toml line %d: value %q", n+1, v)
				}
			}
			key := prefix + strings.TrimSpace(k)
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("fly.toml: %s set twice", key)
			}
			out[key] = v
		}
	}
	return out, nil
}

func stripComment(line string) string {
	inString := false
	for i, c := range line {
		switch {
		case c == '"':
			inString = !inString
		case c == '#' && !inString:
			return line[:i]
		}
	}
	return line
}

// fly.toml deploys the image as it is built: the volume on its data
// directory, the health check on /health at its port, HTTPS only, one
// machine that never stops, Fly's client-address header trusted, a
// shutdown deadline inside Fly's kill timeout, and no secret in the file.
func TestFlyToml(t *testing.T) {
	b, err := os.ReadFile("../fly.toml")
	if err != nil {
		t.Fatal(err)
	}
	fly, err := parseFlyToml(string(b))
	if err != nil {
		t.Fatal(err)
	}
	img := finalImage(t, dockerfile(t))
	want := map[string]string{
		"mounts.destination":                 argAfter(img.cmd, "--dir"),
		"http_service.internal_port":         img.port,
		"http_service.force_https":           "true",
		"http_service.checks[0].path":        "/health",
		"http_service.checks[0].method":      "GET",
		"http_service.min_machines_running":  "1",
		"http_service.auto_stop_machines":    "off",
		"env.DAILYREPS_TRUSTED_PROXY_HEADER": "Fly-Client-IP",
		"kill_signal":                        "SIGTERM",
		"build.dockerfile":                   "Dockerfile",
	}
	for k, v := range want {
		if fly[k] != v {
			t.Errorf("fly.toml %s = %q, want %q", k, fly[k], v)
		}
	}

	// The [env] section is a valid configuration (with the pepper the
	// secrets provide), and holds no secret.
	env := map[string]string{"DAILYREPS_PEPPER": testPepper}
	for k, v := range img.env {
		env[k] = v
	}
	for k, v := range fly {
		if name, ok := strings.CutPrefix(k, "env."); ok {
			switch name {
			case "DAILYREPS_PEPPER", "DAILYREPS_HMAC_SECRET", "DAILYREPS_METRICS_TOKEN", "DAILYREPS_DATABASE_URL":
				t.Errorf("fly.toml sets the secret %s: use fly secrets set", name)
			}
			env[name] = v
		}
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("fly.toml's environment is not a valid configuration: %v", err)
	}

	// Fly kills the machine kill_timeout after SIGTERM: requests in flight
	// must have finished by then.
	kill, err := time.ParseDuration(fly["kill_timeout"])
	if err != nil {
		t.Fatalf("kill_timeout %q: %v", fly["kill_timeout"], err)
	}
	if cfg.ShutdownTimeout >= kill {
		t.Errorf("DAILYREPS_SHUTDOWN_TIMEOUT %v is not inside kill_timeout %v", cfg.ShutdownTimeout, kill)
	}
}

func TestParseFlyToml(t *testing.T) {
	got, err := parseFlyToml("app = \"a # b\" # c\n[env]\n  X = \"1\"\n[[s]]\n  p = 8\n  [s.c]\n    q = true\n[[s]]\n  p = 9\n")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"app": "a # b", "env.X": "1", "s[0].p": "8", "s[0].c.q": "true", "s[1].p": "9"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	for _, bad := range []string{"a = b\n", "a = 1\na = 2\n", "just words\n"} {
		if _, err := parseFlyToml(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
