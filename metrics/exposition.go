package metrics

import (
	"bufio"
	"cmp"
	"context"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Render writes every metric in the text exposition format. The store's
// totals are read through the cache; when that read fails they are left out
// and dailyreps_store_up is 0.
func (r *Registry) Render(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	e := &encoder{w: bw}

	e.family("dailyreps_build_info", "gauge", "The running version, as a label.")
	e.sample("dailyreps_build_info", 1, "version", r.version)
	e.family("dailyreps_start_time_seconds", "gauge", "When the server started, in Unix seconds.")
	e.sample("dailyreps_start_time_seconds", float64(r.started.UnixMilli())/1000)

	r.writeRequests(e)

	if r.stats != nil {
		st, err := r.stats.get(ctx)
		up := 0.0
		if err == nil {
			up = 1
		}
		e.family("dailyreps_store_up", "gauge", "1 when the last read of the store's totals succeeded.")
		e.sample("dailyreps_store_up", up)
		if err == nil {
			for _, g := range []struct {
				name, help string
				value      int64
			}{
				{"dailyreps_users", "Registered users.", st.Users},
				{"dailyreps_backups", "Stored backups (one per storage key).", st.Backups},
				{"dailyreps_backup_versions", "Stored versions, the newest of each backup included.", st.Versions},
				{"dailyreps_stored_bytes", "Bytes of backup data stored, history included.", st.StoredBytes},
			} {
				e.family(g.name, "gauge", g.help)
				e.sample(g.name, float64(g.value))
			}
		}
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// writeRequests copies the counters under the lock and renders them after,
// so that a slow scraper never holds up requests.
func (r *Registry) writeRequests(e *encoder) {
	r.mu.Lock()
	requests := make([]requestKey, 0, len(r.requests))
	counts := make(map[requestKey]uint64, len(r.requests))
	for k, v := range r.requests {
		requests = append(requests, k)
		counts[k] = v
	}
	routes := make([]routeKey, 0, len(r.latency))
	hists := make(map[routeKey]histogram, len(r.latency))
	for k, h := range r.latency {
		routes = append(routes, k)
		hists[k] = histogram{counts: slices.Clone(h.counts), sum: h.sum, count: h.count}
	}
	reasons := make([]string, 0, len(r.refusals))
	refusals := make(map[string]uint64, len(r.refusals))
	for k, v := range r.refusals {
		reasons = append(reasons, k)
		refusals[k] = v
	}
	r.mu.Unlock()

	slices.SortFunc(requests, func(a, b requestKey) int {
		return cmp.Or(compareRoute(a.routeKey, b.routeKey), cmp.Compare(a.status, b.status))
	})
	slices.SortFunc(routes, compareRoute)
	slices.Sort(reasons)

	e.family("dailyreps_http_requests_total", "counter", "API requests by route and status.")
	for _, k := range requests {
		e.sample("dailyreps_http_requests_total", float64(counts[k]),
			"method", k.method, "route", k.route, "status", strconv.Itoa(k.status))
	}

	e.family("dailyreps_http_request_duration_seconds", "histogram", "API request latency by route.")
	for _, k := range routes {
		h := hists[k]
		var cumulative uint64
		for i, upper := range append(slices.Clone(Buckets), math.Inf(1)) {
			cumulative += h.counts[i]
			e.sample("dailyreps_http_request_duration_seconds_bucket", float64(cumulative),
				"method", k.method, "route", k.route, "le", formatFloat(upper))
		}
		e.sample("dailyreps_http_request_duration_seconds_sum", h.sum, "method", k.method, "route", k.route)
		e.sample("dailyreps_http_request_duration_seconds_count", float64(h.count), "method", k.method, "route", k.route)
	}

	e.family("dailyreps_http_refusals_total", "counter",
		"Refused API requests by reason: invalid (400), bad_signature (401), forbidden (403), not_found (404), "+
			"method_not_allowed (405), conflict (409), stale_version (412), too_large (413), unsupported_media_type (415), "+
			"rate_limited (429), unavailable (503), storage_full (507).")
	for _, reason := range reasons {
		e.sample("dailyreps_http_refusals_total", float64(refusals[reason]), "reason", reason)
	}
}

func compareRoute(a, b routeKey) int {
	return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.method, b.method))
}

// encoder writes the format; the first write error sticks.
type encoder struct {
	w   *bufio.Writer
	err error
}

func (e *encoder) family(name, typ, help string) {
	e.write("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one line; labels are name, value pairs.
func (e *encoder) sample(name string, value float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(value))
	b.WriteByte('\n')
	e.write(b.String())
}

func (e *encoder) write(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
