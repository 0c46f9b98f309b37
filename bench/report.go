package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// sample is one measurement of one server.
type sample struct {
	Driver   string  `json:"driver"` // wrk or vegeta
	Op       string  `json:"op"`
	Size     int     `json:"size"`
	Conc     int     `json:"conc"`
	Server   string  `json:"server"`
	Rep      int     `json:"rep"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Short    bool    `json:"short,omitempty"` // the pool ran out before the end
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50Ms"`
	P95      float64 `json:"p95Ms"`
	P99      float64 `json:"p99Ms"`
	CPUus    float64 `json:"cpuUsPerRequest"`
	PeakMB   float64 `json:"peakRssMB"`
}

// memSample is one server's memory with 20 uploads of 5 MB in flight.
type memSample struct {
	Server      string  `json:"server"`
	Rep         int     `json:"rep"`
	IdleMB      float64 `json:"idleRssMB"`        // started, before any upload
	BaseMB      float64 `json:"baseRssMB"`        // just before the uploads
	PeakMB      float64 `json:"peakRssMB"`        // VmHWM during them
	PerUpload   float64 `json:"extraPerUpload"`   // (peak - base) / 20, over the payload
	Admitted    int     `json:"admitted"`         // uploads read at once
	PerAdmitted float64 `json:"extraPerAdmitted"` // (peak - base) / admitted, over the payload
	Errors      int     `json:"errors"`
}

type results struct {
	Machine  machine       `json:"machine"`
	Command  string        `json:"command"`
	Settings string        `json:"settings"`
	Took     time.Duration `json:"took"`
	Samples  []sample      `json:"samples"`
	Memory   []memSample   `json:"memory"`
}

type cellKey struct {
	driver, op string
	size, conc int
}

func keyOf(s sample) cellKey { return cellKey{s.Driver, s.Op, s.Size, s.Conc} }

var opOrder = map[string]int{opRegister: 0, opSave: 1, opRestore: 2, "upload20": 3}

// cells lists the driver's cells in table order.
func (r *results) cells(driver string) []cellKey {
	var out []cellKey
	for _, s := range r.Samples {
		if k := keyOf(s); k.driver == driver && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b cellKey) int {
		if d := opOrder[a.op] - opOrder[b.op]; d != 0 {
			return d
		}
		if a.size != b.size {
			return a.size - b.size
		}
		return a.conc - b.conc
	})
	return out
}

func (r *results) of(k cellKey, server string) []sample {
	var out []sample
	for _, s := range r.Samples {
		if keyOf(s) == k && s.Server == server {
			out = append(out, s)
		}
	}
	return out
}

// value is the median over the repetitions of f.
func (r *results) value(k cellKey, server string, f func(sample) float64) (float64, bool) {
	var v []float64
	for _, s := range r.of(k, server) {
		v = append(v, f(s))
	}
	return median(v)
}

// ratio is the median over the repetitions of f(server) / f(bare), each
// pair taken from the same repetition.
func (r *results) ratio(k cellKey, server, bare string, f func(sample) float64) (float64, bool) {
	var v []float64
	for _, s := range r.of(k, server) {
		for _, b := range r.of(k, bare) {
			if b.Rep == s.Rep && f(b) > 0 {
				v = append(v, f(s)/f(b))
			}
		}
	}
	return median(v)
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

var (
	fRPS  = func(s sample) float64 { return s.RPS }
	fP50  = func(s sample) float64 { return s.P50 }
	fP95  = func(s sample) float64 { return s.P95 }
	fP99  = func(s sample) float64 { return s.P99 }
	fCPU  = func(s sample) float64 { return s.CPUus }
	fPeak = func(s sample) float64 { return s.PeakMB }
)

// markdown renders the report.
func (r *results) markdown(pg bool) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## Results\n\n")
	fmt.Fprintf(&b, "- Date: %s; the run took %s\n", m.Date, r.Took)
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s memory, Linux %s\n", m.CPUs, m.CPUModel, m.MemoryGB, m.Kernel)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s before, %s after\n", m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(&b, "- Tools: %s, %s\n", m.Go, m.Wrk)
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.TrimSpace(r.Command))
	fmt.Fprintf(&b, "- %s; medians of the repetitions, ratios are medians of same-repetition ratios\n\n", r.Settings)

	r.targets(&b)

	type section struct{ title, driver, server, bare string }
	sections := []section{
		{"Main workload: ours (SQLite, defaults) against bare (SQLite, synchronous=FULL)", driverMany, specOurs.Name, specBare.Name},
		{"Main workload: ours with the quota off against bare", driverMany, specOursQuotaOff.Name, specBare.Name},
		{"Main workload: ours with history depth 0 against bare", driverMany, specOursH0.Name, specBare.Name},
	}
	if pg {
		sections = append(sections,
			section{"Main workload on PostgreSQL: ours-pg (defaults) against bare-pg (pgx)", driverMany, specOursPG.Name, specBarePG.Name},
			section{"bare-pg (pgx) against bare (SQLite)", driverMany, specBarePG.Name, specBare.Name})
	}
	sections = append(sections,
		section{"bare reference (SQLite, synchronous=FULL), main workload", driverMany, specBare.Name, ""},
		section{"Single backup, every limit off: ours-open against bare", driverSingle, specOursOpen.Name, specBare.Name},
		section{"Single backup: bare with synchronous=NORMAL against bare with FULL", driverSingle, specBareNormal.Name, specBare.Name},
		section{"Signed requests (vegeta): ours with signatures on against the same server without the secret (× is to that server)", "vegeta", specGuarded.Name, specUnsigned.Name},
		section{"Signed requests (vegeta): ours without the secret against bare", "vegeta", specUnsigned.Name, specBare.Name},
		section{"bare reference under vegeta", "vegeta", specBare.Name, ""},
	)
	for _, s := range sections {
		r.table(&b, s.title, s.driver, s.server, s.bare)
	}
	r.memoryTable(&b)
	return b.String()
}

// table renders server's figures per cell, with ratios to bare ("" for
// none).
func (r *results) table(b *strings.Builder, title, driver, server, bare string) {
	var rows []string
	for _, k := range r.cells(driver) {
		if len(r.of(k, server)) == 0 {
			continue
		}
		v := func(f func(sample) float64, format string) string {
			x, ok := r.value(k, server, f)
			if !ok {
				return "-"
			}
			return fmt.Sprintf(format, x)
		}
		q := func(f func(sample) float64) string {
			x, ok := r.ratio(k, server, bare, f)
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.2f", x)
		}
		rps := v(fRPS, "%.0f") + r.flags(k, server)
		if bare == "" {
			rows = append(rows, fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %s |", k.op, sizeLabel(k.size), k.conc,
				rps, v(fP50, "%.2f"), v(fP95, "%.2f"), v(fP99, "%.2f"), v(fCPU, "%.0f"), v(fPeak, "%.0f")))
			continue
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", k.op, sizeLabel(k.size), k.conc,
			rps, q(fRPS), v(fP50, "%.2f"), v(fP95, "%.2f"), v(fP99, "%.2f"), q(fP99),
			v(fCPU, "%.0f"), q(fCPU), v(fPeak, "%.0f"), q(fPeak)))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	if bare == "" {
		b.WriteString("| call | size | c | req/s | p50 ms | p95 ms | p99 ms | CPU µs/req | peak RSS MB |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	} else {
		b.WriteString("| call | size | c | req/s | × bare | p50 ms | p95 ms | p99 ms | p99 × bare | CPU µs/req | × bare | peak RSS MB | × bare |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	}
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

// flags marks a cell with failed requests (!) or a shortened run (*).
func (r *results) flags(k cellKey, server string) string {
	var errs, reqs int
	short := false
	for _, s := range r.of(k, server) {
		errs += s.Errors
		reqs += s.Requests
		short = short || s.Short
	}
	out := ""
	if errs > 0 {
		out += fmt.Sprintf(" (%d/%d failed)", errs, reqs)
	}
	if short {
		out += " *"
	}
	return out
}

func (r *results) memoryTable(b *strings.Builder) {
	var servers []string
	for _, m := range r.Memory {
		if !slices.Contains(servers, m.Server) {
			servers = append(servers, m.Server)
		}
	}
	if len(servers) == 0 {
		return
	}
	b.WriteString("### Memory: idle, and 20 uploads of 5 MB sent at once (wrk -c20)\n\n")
	b.WriteString("| server | idle RSS MB | RSS before MB | peak RSS MB | extra RSS per upload sent, × payload | uploads read at once | extra RSS per upload read, × payload |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range servers {
		idle, base, peak, per := r.memory(s)
		var adm []float64
		var n int
		for _, m := range r.Memory {
			if m.Server == s {
				adm, n = append(adm, m.PerAdmitted), m.Admitted
			}
		}
		pa, _ := median(adm)
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f | %.2f | %d | %.2f |\n", s, idle, base, peak, per, n, pa)
	}
	b.WriteString("\n")
}

func (r *results) memory(server string) (idle, base, peak, per float64) {
	var iv, bv, pv, uv []float64
	for _, m := range r.Memory {
		if m.Server == server {
			iv, bv, pv, uv = append(iv, m.IdleMB), append(bv, m.BaseMB), append(pv, m.PeakMB), append(uv, m.PerUpload)
		}
	}
	idle, _ = median(iv)
	base, _ = median(bv)
	peak, _ = median(pv)
	per, _ = median(uv)
	return
}

// targets checks the targets against this run.
func (r *results) targets(b *strings.Builder) {
	type target struct {
		what  string
		value float64
		ok    bool
		goal  string
		met   func(float64) bool
	}
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	atMost := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	cell := func(driver, op string, size int) cellKey {
		c := 10
		if size >= largeSize {
			c = 4
		}
		return cellKey{driver, op, size, c}
	}
	ratio := func(what, driver, op string, size int, server, bare string, f func(sample) float64, goal string, met func(float64) bool) target {
		v, ok := r.ratio(cell(driver, op, size), server, bare, f)
		return target{what, v, ok, goal, met}
	}
	ours, bare := specOurs.Name, specBare.Name
	ts := []target{
		ratio("save 1KB, req/s × bare", driverMany, opSave, 1000, ours, bare, fRPS, ">= 0.80", atLeast(0.80)),
		ratio("save 100KB, req/s × bare", driverMany, opSave, 100_000, ours, bare, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("save 1MB (c=4), req/s × bare", driverMany, opSave, largeSize, ours, bare, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("save 1KB, quota on × off", driverMany, opSave, 1000, ours, specOursQuotaOff.Name, fRPS, ">= 0.95", atLeast(0.95)),
		ratio("save 100KB, quota on × off", driverMany, opSave, 100_000, ours, specOursQuotaOff.Name, fRPS, ">= 0.95", atLeast(0.95)),
		ratio("save 1MB, quota on × off", driverMany, opSave, largeSize, ours, specOursQuotaOff.Name, fRPS, ">= 0.95", atLeast(0.95)),
		ratio("save 100KB, history 10 × 0", driverMany, opSave, 100_000, ours, specOursH0.Name, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("save 1MB, history 10 × 0", driverMany, opSave, largeSize, ours, specOursH0.Name, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("restore 1KB, req/s × bare", driverMany, opRestore, 1000, ours, bare, fRPS, ">= 0.85", atLeast(0.85)),
		ratio("restore 100KB, req/s × bare", driverMany, opRestore, 100_000, ours, bare, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("signed save 1KB × unsigned", "vegeta", opSave, 1000, specGuarded.Name, specUnsigned.Name, fRPS, ">= 0.90", atLeast(0.90)),
		ratio("signed save 100KB × unsigned", "vegeta", opSave, 100_000, specGuarded.Name, specUnsigned.Name, fRPS, ">= 0.90", atLeast(0.90)),
	}
	for _, op := range []string{opSave, opRestore} {
		for _, size := range []int{1000, 100_000, largeSize} {
			ts = append(ts, ratio(fmt.Sprintf("%s %s, p99 × bare", op, sizeLabel(size)), driverMany, op, size, ours, bare, fP99, "<= 1.25", atMost(1.25)))
		}
	}
	ts = append(ts,
		ratio("PostgreSQL save 100KB, req/s × bare-pg", driverMany, opSave, 100_000, specOursPG.Name, specBarePG.Name, fRPS, ">= 0.80", atLeast(0.80)),
		ratio("PostgreSQL restore 100KB, req/s × bare-pg", driverMany, opRestore, 100_000, specOursPG.Name, specBarePG.Name, fRPS, ">= 0.80", atLeast(0.80)),
	)
	if slices.ContainsFunc(r.Memory, func(m memSample) bool { return m.Server == specOursOpen.Name }) {
		idle, _, _, _ := r.memory(specOursOpen.Name)
		var adm []float64
		for _, m := range r.Memory {
			if m.Server == specOursOpen.Name {
				adm = append(adm, m.PerAdmitted)
			}
		}
		per, _ := median(adm)
		ts = append(ts,
			target{"20 uploads of 5MB sent at once: extra RSS per upload read, × payload", per, true, "<= 2", atMost(2)},
			target{"idle RSS, MB", idle, true, "< 40", func(v float64) bool { return v < 40 }},
		)
	}
	b.WriteString("### Targets (c=10, 1MB at c=4; medians of same-repetition ratios)\n\n")
	b.WriteString("| target | measured | goal | met |\n|---|--:|--:|---|\n")
	for _, t := range ts {
		if !t.ok {
			continue
		}
		met := "no"
		if t.met(t.value) {
			met = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.what, trim(t.value), t.goal, met)
	}
	b.WriteString("\n")
}

func trim(v float64) string {
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
