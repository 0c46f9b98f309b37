package hooks

import (
	"net"
	"net/netip"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// ClientIPResolver attributes each request to a client address: the
// connection's, or, only when the operator names a trusted proxy header
// (Fly.io sends Fly-Client-IP), that header's. Without that setting a client
// cannot pick its own bucket by sending X-Forwarded-For.
//
// IPv6 clients are attributed to their /64, the block one subscriber
// usually holds, so that a single host cannot walk its prefix to get fresh
// buckets.
func ClientIPResolver(trustedHeader string) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id:       IdClientIP,
		Priority: PriorityClientIP,
		Func: func(e *core.RequestEvent) error {
			e.Set(keyClientIP, resolveClientIP(e.Request.RemoteAddr, e.Request.Header.Get, trustedHeader))
			return e.Next()
		},
	}
}

func resolveClientIP(remoteAddr string, header func(string) string, trustedHeader string) string {
	if trustedHeader != "" {
		if v := header(trustedHeader); v != "" {
			// In a list the rightmost entry is the one the proxy added.
			parts := strings.Split(v, ",")
			if a, ok := parseAddr(strings.TrimSpace(parts[len(parts)-1])); ok {
				return a
			}
		}
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if a, ok := parseAddr(host); ok {
		return a
	}
	return "unknown"
}

func parseAddr(s string) (string, bool) {
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return "", false
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String(), true
	}
	return a.String(), true
}
