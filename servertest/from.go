package servertest

import (
	"net"
	"net/http"
	"time"
)

// Client sends requests to a server from one client address.
type Client struct {
	s *Server
	c *http.Client
}

// From returns a client whose requests leave from the loopback address ip
// (127.0.0.2, 127.0.0.3, ...): every address in 127.0.0.0/8 reaches a server
// listening on 127.0.0.1, so a test can play a stranger next to the owner
// (127.0.0.1) without any proxy header.
func (s *Server) From(ip string) *Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &Client{s: s, c: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}}
}

// Do sends a request from the client's address and reads the whole response.
func (c *Client) Do(r Request) *Response {
	c.s.t.Helper()
	return c.s.do(c.c, r)
}
