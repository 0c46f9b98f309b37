package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// tool finds a binary of Debian's prometheus package. Missing, the test
// fails rather than skips: scripts/test.sh installs the package.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (apt-get install prometheus; scripts/test.sh installs it): %v", name, err)
	}
	return path
}

func run(t *testing.T, stdin []byte, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// The alert rules in monitoring/ are valid and pass their unit tests.
func TestAlertRules(t *testing.T) {
	run(t, nil, "promtool", "check", "rules", filepath.Join("..", "monitoring", "alerts.yml"))
	run(t, nil, "promtool", "test", "rules", filepath.Join("..", "monitoring", "alerts_test.yml"))
}

// A real Prometheus scrapes /metrics with the bearer token, and a PromQL
// query returns the user count; promtool lints the same exposition.
func TestPrometheusScrapes(t *testing.T) {
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.MetricsToken = metricsToken
		c.IPBurst, c.NewUsersPerIPPerDay, c.RegisterPerHour = 0, 0, 0
	}))
	const users = 3
	for i := range users {
		if r := s.Do(servertest.Request{Method: "POST", Path: "/api/register",
			Body: map[string]string{"userId": servertest.ID(fmt.Sprint("prom-", i))}}); r.Status != http.StatusOK {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
	}
	r := s.Do(servertest.Request{Method: "GET", Path: "/metrics", Header: map[string]string{"Authorization": "Bearer " + metricsToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("scrape: %d", r.Status)
	}
	run(t, r.Body, "promtool", "check", "metrics")

	dir := t.TempDir()
	target := strings.TrimPrefix(s.URL, "http://")
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(metricsToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: dailyreps
    authorization: {type: Bearer, credentials_file: %q}
    static_configs: [{targets: [%q]}]
`, filepath.Join(dir, "token"), target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, tool(t, "prometheus"), "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	query := "http://" + addr + "/api/v1/query?query=" + url.QueryEscape(`dailyreps_users{job="dailyreps"}`)
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get(query)
		if err != nil {
			last = err.Error()
			continue
		}
		var body struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || body.Status != "success" || len(body.Data.Result) != 1 {
			last = fmt.Sprintf("%+v %v", body, err)
			continue
		}
		if got := body.Data.Result[0].Value[1]; got == fmt.Sprint(users) {
			return
		} else {
			last = fmt.Sprint("value ", got)
		}
	}
	t.Fatalf("Prometheus never returned %d users (last: %s)\n%s", users, last, logs.String())
}
