package hooks

import (
	"net"
	"net/http"
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
			e.Set(keyClientIP, resolveClientIP(e.Request.RemoteAddr, e.Request.Header, trustedHeader))
			return e.Next()
		},
	}
}

func resolveClientIP(remoteAddr string, header http.Header, trustedHeader string) string {
	if trustedHeader != "" {
		// The rightmost entry is the one the proxy added: of a list, and of
		// the header's lines, since a proxy may add its own line after the
		// client's.
		if lines := header.Values(trustedHeader); len(lines) > 0 {
			last := lines[len(lines)-1]
			if a, ok := parseAddr(strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])); ok {
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
		// Some proxies write the client's port too.
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return "", false
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String(), true
	}
	return a.String(), true
}
