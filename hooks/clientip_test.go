package hooks

import (
	"net/http"
	"testing"
)

func TestResolveClientIP(t *testing.T) {
	cases := []struct {
		name, remote, trusted string
		header                http.Header
		want                  string
	}{
		{"IPv4 connection", "203.0.113.5:41000", "", nil, "203.0.113.5"},
		{"IPv6 connection is its /64", "[2001:db8:1:2:3:4:5:6]:443", "", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:198.51.100.7]:80", "", nil, "198.51.100.7"},
		{"zone dropped", "[fe80::1%eth0]:80", "", nil, "fe80::/64"},
		{"no port", "192.0.2.1", "", nil, "192.0.2.1"},
		{"unparseable connection", "pipe", "", nil, "unknown"},

		{"untrusted X-Forwarded-For ignored", "192.0.2.1:1", "",
			http.Header{"X-Forwarded-For": {"10.0.0.1"}}, "192.0.2.1"},
		{"untrusted Fly-Client-IP ignored", "192.0.2.1:1", "",
			http.Header{"Fly-Client-Ip": {"10.0.0.1"}}, "192.0.2.1"},
		{"another header than the trusted one ignored", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"X-Forwarded-For": {"10.0.0.1"}}, "192.0.2.1"},

		{"trusted header", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"Fly-Client-Ip": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted header, IPv6", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"Fly-Client-Ip": {"2001:db8:aa:bb::1"}}, "2001:db8:aa:bb::/64"},
		{"trusted header, bracketed", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"Fly-Client-Ip": {"[2001:db8::1]"}}, "2001:db8::/64"},
		{"trusted header with a port", "192.0.2.1:1", "X-Forwarded-For",
			http.Header{"X-Forwarded-For": {"203.0.113.9:5555"}}, "203.0.113.9"},
		{"trusted list: the rightmost entry", "192.0.2.1:1", "X-Forwarded-For",
			http.Header{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2 , 203.0.113.9"}}, "203.0.113.9"},
		{"trusted lines: the proxy's line, after the client's", "192.0.2.1:1", "X-Forwarded-For",
			http.Header{"X-Forwarded-For": {"10.0.0.1", "203.0.113.9"}}, "203.0.113.9"},
		{"trusted lines with lists", "192.0.2.1:1", "X-Forwarded-For",
			http.Header{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2", "10.0.0.3, 203.0.113.9"}}, "203.0.113.9"},
		{"trusted header garbage: the connection", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"Fly-Client-Ip": {"not an address"}}, "192.0.2.1"},
		{"trusted header empty: the connection", "192.0.2.1:1", "Fly-Client-IP",
			http.Header{"Fly-Client-Ip": {""}}, "192.0.2.1"},
		{"trusted header missing: the connection", "192.0.2.1:1", "Fly-Client-IP", nil, "192.0.2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := resolveClientIP(c.remote, c.header, c.trusted); got != c.want {
				t.Fatalf("resolveClientIP(%q, %v, %q) = %q, want %q", c.remote, c.header, c.trusted, got, c.want)
			}
		})
	}
}

// Every address of one /64 is one client; the neighbouring /64 is another.
func TestIPv6Slash64(t *testing.T) {
	a := resolveClientIP("[2001:db8:0:1::1]:1", nil, "")
	for _, same := range []string{"[2001:db8:0:1:ffff:ffff:ffff:ffff]:1", "[2001:DB8:0:1:0:0:0:2]:1"} {
		if got := resolveClientIP(same, nil, ""); got != a {
			t.Fatalf("%s is %q, want %q", same, got, a)
		}
	}
	for _, other := range []string{"[2001:db8:0:2::1]:1", "[2001:db8:1:1::1]:1"} {
		if got := resolveClientIP(other, nil, ""); got == a {
			t.Fatalf("%s shares %q", other, a)
		}
	}
}
