package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// In-process benchmarks of the real server (servertest: the same Register
// that main calls, on a loopback port), for regressions without wrk:
//
//	cd bench && go test -run '^$' -bench . -benchmem
//	cd bench && go test -run '^$' -bench 'Save/100KB' -cpuprofile cpu.out
//
// ns/op is a whole request, client included; allocations are the client's
// and the server's together, so compare them between commits, not with wrk's
// figures.

var benchSizes = []int{1000, 100_000, 1_000_000}

// openServer starts the server with the limits off, as the wrk runs do.
func openServer(b *testing.B, history int) *servertest.Server {
	b.Helper()
	return servertest.New(b, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
		c.MaxBackupsPerUser, c.UserQuotaBytes, c.HistoryDepth = 0, 0, history
	}))
}

// do sends one request and fails the benchmark unless it answers 200.
func do(b *testing.B, c *http.Client, method, url string, body []byte) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		b.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, err)
	}
}

func prepared(b *testing.B, history, size int) (*servertest.Server, []byte) {
	s := openServer(b, history)
	body := saveBody(benchUser, benchKey, envelope(ciphertext(size), nonceB64(0, 0)))
	do(b, http.DefaultClient, http.MethodPost, s.URL+"/api/register", registerBody(benchUser))
	do(b, http.DefaultClient, http.MethodPost, s.URL+"/api/backup", body)
	return s, body
}

func BenchmarkSave(b *testing.B) {
	for _, history := range []int{10, 0} {
		for _, size := range benchSizes {
			b.Run(sizeLabel(size)+"/history"+strconv.Itoa(history), func(b *testing.B) {
				s, body := prepared(b, history, size)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					do(b, http.DefaultClient, http.MethodPost, s.URL+"/api/backup", body)
				}
			})
		}
	}
}

func BenchmarkRestore(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeLabel(size), func(b *testing.B) {
			s, _ := prepared(b, 10, size)
			url := s.URL + restorePath(benchUser, benchKey)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				do(b, http.DefaultClient, http.MethodGet, url, nil)
			}
		})
	}
}

// BenchmarkRestoreParallel restores from ten goroutines per CPU at once, as
// many clients would.
func BenchmarkRestoreParallel(b *testing.B) {
	for _, size := range benchSizes[:2] {
		b.Run(sizeLabel(size), func(b *testing.B) {
			s, _ := prepared(b, 10, size)
			url := s.URL + restorePath(benchUser, benchKey)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.SetParallelism(10)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					do(b, client, http.MethodGet, url, nil)
				}
			})
		})
	}
}

func BenchmarkRegister(b *testing.B) {
	s := openServer(b, 10)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		do(b, http.DefaultClient, http.MethodPost, s.URL+"/api/register", registerBody(id("register-"+strconv.Itoa(n))))
	}
}
