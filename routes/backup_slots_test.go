package routes_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dailyreps/backup/config"
	"github.com/dailyreps/backup/servertest"
)

// doFrom sends r to s from the loopback address ip, as a stranger on
// another machine would (every 127/8 address reaches 127.0.0.1).
func doFrom(t *testing.T, s *servertest.Server, ip string, r servertest.Request) *servertest.Response {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	b, err := json.Marshal(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(r.Method, s.URL+r.Path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", r.Method, r.Path, ip, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// A stranger who knows a username fills every backup slot it can from its
// address; the owner, from another address, still creates its first backup
// (on a new install, or after a password change gave it a new key). The
// backup limits are at their defaults.
func TestStrangerCannotTakeTheOwnersFirstBackup(t *testing.T) {
	s := newServer(t)
	const owner, stranger = "127.0.0.1", "127.0.0.2"
	u := id("known-name")
	expectStatus(t, doFrom(t, s, stranger, servertest.Request{Method: "POST", Path: "/api/register",
		Body: map[string]string{"userId": u}}), http.StatusOK)
	filled := 0
	for i := range 30 {
		r := doFrom(t, s, stranger, saveReq(u, id("junk-"+string(rune('a'+i))), envelope(32, 'j')))
		if r.Status == http.StatusTooManyRequests {
			break
		}
		expectStatus(t, r, http.StatusOK)
		filled++
	}
	if filled == 0 || filled >= 30 {
		t.Fatalf("the stranger created %d backups", filled)
	}
	r := doFrom(t, s, owner, saveReq(u, id("owner-key"), envelope(32, 'o')))
	if r.Status != http.StatusOK {
		t.Fatalf("the owner's first backup after a stranger created %d: %d %s", filled, r.Status, r.Body)
	}
}

// Slots are counted per creating address under a per-user bound, which
// holds whatever the number of addresses.
func TestBackupsPerUserBoundHolds(t *testing.T) {
	s := newServer(t, behindProxy)
	c := config.Default()
	u := id("collected")
	register(t, s, u)
	created := 0
	for a := range c.MaxBackupsPerUser/c.MaxBackupsPerIP + 1 {
		ip := "203.0.113." + string(rune('1'+a))
		for i := range c.MaxBackupsPerIP {
			r := s.Do(from(ip, saveReq(u, id(ip+string(rune('a'+i))), envelope(32, 'x'))))
			if created < c.MaxBackupsPerUser {
				expectStatus(t, r, http.StatusOK)
				created++
				continue
			}
			msg := expectError(t, r, http.StatusTooManyRequests)
			if !strings.Contains(msg, "backups per user.") {
				t.Fatalf("backup %d of the user: %q", created+1, msg)
			}
		}
		// One address never takes more than its share.
		msg := expectError(t, s.Do(from(ip, saveReq(u, id(ip+"more"), envelope(32, 'x')))), http.StatusTooManyRequests)
		if !strings.Contains(msg, "backups per user") {
			t.Fatalf("one backup too many from %s: %q", ip, msg)
		}
	}
	// Existing backups keep saving from anywhere.
	save(t, s, u, id("203.0.113.1a"), envelope(32, 'y'))
}

// Saving under a guessed storage key with the guesser's own userId tells
// nothing: a key that is another user's backup is answered exactly as a
// fresh one, and that backup is untouched.
func TestGuessedKeyOfAnotherUserAnswersLikeAFreshKey(t *testing.T) {
	s := newServer(t)
	owner, guesser, right, wrong := id("owner"), id("guesser"), id("owner-key"), id("not-a-key")
	register(t, s, owner)
	register(t, s, guesser)
	save(t, s, owner, right, envelope(32, 'o'))
	ownerData := get(s, owner, right).JSON(t)["data"]

	answer := func(r *servertest.Response) string {
		m := map[string]any{}
		_ = json.Unmarshal(r.Body, &m)
		delete(m, "updatedAt")
		b, _ := json.Marshal(m)
		return r.Header.Get("ETag") + " " + string(b) + " " + http.StatusText(r.Status)
	}
	for _, ifMatch := range []string{`"1"`, ""} {
		req := func(key string) servertest.Request {
			r := saveReq(guesser, key, envelope(32, 'g'))
			if ifMatch != "" {
				r.Header = map[string]string{"If-Match": ifMatch}
			}
			return r
		}
		gotRight, gotWrong := answer(s.Do(req(right))), answer(s.Do(req(wrong)))
		if gotRight != gotWrong {
			t.Fatalf("If-Match %q: a right guess is answered %s, a wrong one %s", ifMatch, gotRight, gotWrong)
		}
	}
	if got := get(s, owner, right).JSON(t); got["data"] != ownerData || got["version"] != float64(1) {
		t.Fatalf("the owner's backup changed: %v", got)
	}
}
