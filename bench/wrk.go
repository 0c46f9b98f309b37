package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

//go:embed wrk.lua
var wrkScript []byte

// loadResult is what one load run measured, client side.
type loadResult struct {
	Requests int           // requests that ended, in a response or an error
	Errors   int           // non-2xx responses, socket errors and timeouts
	Elapsed  time.Duration // from the first request to the end of the run
	P50      time.Duration
	P95      time.Duration
	P99      time.Duration
}

// OK is the number of successful requests.
func (r loadResult) OK() int { return max(r.Requests-r.Errors, 0) }

// RPS is the rate of successful requests.
func (r loadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK()) / r.Elapsed.Seconds()
}

// wrkJob is one request shape for wrk.
type wrkJob struct {
	method, path string
	bodyFile     string // "" for none
	register     bool   // a fresh userId per request
	mode         string // "many-save" or "many-restore": one of the backups in idsFile per request
	idsFile      string
}

// wrkRunner runs wrk with the embedded script.
type wrkRunner struct {
	script string // the script's path
	runs   int    // numbers the runs, to keep generated userIds unique
}

func newWrkRunner(dir string) (*wrkRunner, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, errors.New("wrk is not installed (Debian: apt-get install -y wrk)")
	}
	path := dir + "/bench.lua"
	if err := os.WriteFile(path, wrkScript, 0o644); err != nil {
		return nil, err
	}
	return &wrkRunner{script: path}, nil
}

// run drives baseURL with conns connections on one wrk thread for d. One
// thread keeps the load generator's share of the two cores small; it is an
// event loop and keeps 50 connections busy on its own.
func (w *wrkRunner) run(ctx context.Context, baseURL string, job wrkJob, conns int, d time.Duration) (loadResult, error) {
	w.runs++
	secs := max(int(math.Round(d.Seconds())), 1)
	cmd := exec.CommandContext(ctx, "wrk", "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s",
		"--timeout", "60s", "-s", w.script, baseURL)
	mode := job.mode
	if job.register {
		mode = "register"
	}
	cmd.Env = append(os.Environ(), "BENCH_METHOD="+job.method, "BENCH_PATH="+job.path,
		"BENCH_BODY="+job.bodyFile, "BENCH_RUN="+strconv.Itoa(w.runs), "BENCH_MODE="+mode, "BENCH_IDS="+job.idsFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w: %s", err, stderr.String())
	}
	_, line, ok := strings.Cut(stdout.String(), "BENCH ")
	if !ok {
		return loadResult{}, fmt.Errorf("wrk printed no result:\n%s%s", stdout.String(), stderr.String())
	}
	line, _, _ = strings.Cut(line, "\n")
	var out struct {
		Requests   int     `json:"requests"`
		DurationUS int64   `json:"duration_us"`
		Connect    int     `json:"connect"`
		Read       int     `json:"read"`
		Write      int     `json:"write"`
		Status     int     `json:"status"`
		Timeout    int     `json:"timeout"`
		P50        float64 `json:"p50_us"`
		P95        float64 `json:"p95_us"`
		P99        float64 `json:"p99_us"`
	}
	if err := json.Unmarshal([]byte(line), &out); err != nil {
		return loadResult{}, fmt.Errorf("wrk result %q: %w", line, err)
	}
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	// wrk counts responses, whatever their status, in requests; the other
	// errors ended requests without one.
	socket := out.Connect + out.Read + out.Write + out.Timeout
	return loadResult{
		Requests: out.Requests + socket,
		Errors:   out.Status + socket,
		Elapsed:  time.Duration(out.DurationUS) * time.Microsecond,
		P50:      us(out.P50), P95: us(out.P95), P99: us(out.P99),
	}, nil
}
