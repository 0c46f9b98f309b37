package hooks_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/server"
	"github.com/dailyreps/backup/servertest"
)

// Each API request leaves one JSON line on standard output with exactly
// these fields, and nothing a client sent besides a sane request id; the
// refused ones also leave the same line in PocketBase's log table.
func TestAccessLogLines(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	s := servertest.New(t, servertest.WithConfig(func(c *config.Config) {
		c.IPBurst, c.RegisterPerHour, c.NewUsersPerIPPerDay = 0, 0, 0
		c.SavesPerHour, c.SavesPerDay, c.FailedLookupBurst = 0, 0, 0
	}), servertest.WithOptions(func(o *server.Options) {
		o.LogOutput = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	}))
	user, key, stranger := servertest.ID("log-user"), servertest.ID("log-key"), servertest.ID("log-stranger")
	canary := "log-canary-deadlifts"
	envelope, _ := json.Marshal(map[string]string{
		"encrypted": base64.StdEncoding.EncodeToString([]byte(canary + strings.Repeat(".", 64))), "nonce": "AAECAwQFBgcICQoL",
	})

	type sent struct {
		req      servertest.Request
		bodySize int
		resp     *servertest.Response
	}
	var requests []*sent
	send := func(r servertest.Request, requestID string) *sent {
		t.Helper()
		if requestID != "" {
			r.Header = map[string]string{"X-Request-Id": requestID}
		}
		size := 0
		if r.Body != nil {
			b, _ := json.Marshal(r.Body)
			size = len(b)
		}
		x := &sent{req: r, bodySize: size, resp: s.Do(r)}
		requests = append(requests, x)
		return x
	}
	reg := send(servertest.Request{Method: "POST", Path: "/api/register", Body: map[string]string{"userId": user}}, "client-request-1")
	save := send(servertest.Request{Method: "POST", Path: "/api/backup",
		Body: map[string]string{"userId": user, "storageKey": key, "data": string(envelope)}}, "not a sane id")
	get := send(servertest.Request{Method: "GET", Path: "/api/backup?userId=" + user + "&storageKey=" + key}, "")
	miss := send(servertest.Request{Method: "GET", Path: "/api/backup?userId=" + stranger + "&storageKey=" + key}, strings.Repeat("a", 65))
	// A careless client's ids as request ids: long hex runs are never kept.
	asKey := send(servertest.Request{Method: "GET", Path: "/api/backup?userId=" + user + "&storageKey=" + key}, key)
	asUser := send(servertest.Request{Method: "GET", Path: "/api/usage?userId=" + user + "&storageKey=" + key}, "u-"+strings.ToUpper(user[:40]))
	for _, x := range []*sent{reg, save, get} {
		if x.resp.Status != 200 {
			t.Fatalf("%s %s: %d %s", x.req.Method, x.req.Path, x.resp.Status, x.resp.Body)
		}
	}

	// The request id is the client's when it is sane, else a fresh one.
	fresh := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{8}$`)
	if got := reg.resp.Header.Get("X-Request-Id"); got != "client-request-1" {
		t.Fatalf("a sane X-Request-Id is not echoed: %q", got)
	}
	for _, x := range []*sent{save, get, miss, asKey, asUser} {
		if got := x.resp.Header.Get("X-Request-Id"); !fresh.MatchString(got) {
			t.Fatalf("request id %q for %s is not a fresh one", got, x.req.Path)
		}
	}

	s.Stop() // flushes PocketBase's batched log writes
	secrets := []string{user, key, stranger, strings.ToUpper(user), user[:40], strings.ToUpper(user[:40]), canary, "127.0.0.1", "not a sane id"}
	rows := servertest.LogRows(t, s.App.DataDir())
	inTable := map[string]bool{}
	for _, row := range rows {
		for _, secret := range secrets {
			if strings.Contains(row.Message+row.Data, secret) {
				t.Errorf("a log row holds %.16s…: %s %s", secret, row.Message, row.Data)
			}
		}
		var fields map[string]any
		if row.Message == "request" && json.Unmarshal([]byte(row.Data), &fields) == nil {
			id, _ := fields["requestId"].(string)
			inTable[id] = true
		}
	}
	for _, x := range requests {
		id := x.resp.Header.Get("X-Request-Id")
		if refused := x.resp.Status >= 400; inTable[id] != refused {
			t.Errorf("%s %s answered %d: in the log table %v, want %v", x.req.Method, x.req.Path, x.resp.Status, inTable[id], refused)
		}
	}

	lines := map[string]map[string]any{}
	for line := range strings.Lines(out.String()) {
		for _, secret := range secrets {
			if strings.Contains(line, secret) {
				t.Errorf("a log line holds %.16s…: %s", secret, line)
			}
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if fields["msg"] != "request" {
			continue
		}
		delete(fields, "time")
		delete(fields, "level")
		delete(fields, "msg")
		keys := slices.Sorted(maps.Keys(fields))
		if want := []string{"bytesIn", "bytesOut", "durationMs", "requestId", "route", "status"}; !slices.Equal(keys, want) {
			t.Errorf("log fields %v, want %v", keys, want)
		}
		id, _ := fields["requestId"].(string)
		lines[id] = fields
	}
	for _, x := range requests {
		id := x.resp.Header.Get("X-Request-Id")
		line := lines[id]
		if line == nil {
			t.Fatalf("no log line with request id %q: %s", id, out.String())
		}
		route := x.req.Method + " " + strings.SplitN(x.req.Path, "?", 2)[0]
		if line["route"] != route || line["status"] != float64(x.resp.Status) ||
			line["bytesIn"] != float64(x.bodySize) || line["bytesOut"] != float64(len(x.resp.Body)) {
			t.Errorf("log line %v, want route %q status %d bytesIn %d bytesOut %d",
				line, route, x.resp.Status, x.bodySize, len(x.resp.Body))
		}
		if d, ok := line["durationMs"].(float64); !ok || d < 0 {
			t.Errorf("durationMs = %v", line["durationMs"])
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
