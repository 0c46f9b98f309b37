package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// DefaultHealthURL is where the container image's server answers.
const DefaultHealthURL = "http://127.0.0.1:8090/health"

// NewHealthCommand returns the "health" command: it asks a running server's
// /health (a database round trip and a disk check) and exits 0 only on a 200,
// so that a container's HEALTHCHECK needs no curl in the image. main runs it
// without PocketBase: it must not open the data directory the server it
// probes is using.
func NewHealthCommand() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when a running server answers /health with 200 (for container health checks)",
		Long: `Ask a running server's /health, which checks the database and the free disk.
Exits 0 on 200; otherwise prints one line with the reason and exits 1.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := probeHealth(cmd.Context(), target, timeout); err != nil {
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return err
		},
	}
	cmd.Flags().StringVar(&target, "url", DefaultHealthURL, "the server's /health URL")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

func probeHealth(ctx context.Context, target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url must be an http:// or https:// URL, such as %s", DefaultHealthURL)
	}
	if timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		// A probe never goes through a proxy, nor follows a redirect: only
		// the server's own 200 counts.
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("unhealthy: no answer from %s within %s", u.Redacted(), timeout)
		}
		return fmt.Errorf("unhealthy: %s", oneLine(unwrapURLError(err).Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return fmt.Errorf("unhealthy: %s answered %d: %s", u.Redacted(), resp.StatusCode, reason(resp))
}

// reason is the {"error": ...} sentence of an API error, else the status text.
func reason(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		return oneLine(body.Error)
	}
	return http.StatusText(resp.StatusCode)
}

// unwrapURLError drops net/http's "Get <url>:" prefix; the message names the
// URL already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.URL, ue.Err)
	}
	return err
}

// oneLine keeps what the server sent to a single printable line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.TrimSpace(s)
}
