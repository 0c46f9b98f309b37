#!/bin/sh
# Measures the cost of one password guess for each attacker (SECURITY.md,
# "The cost of a password guess") and prints, for each test and core count,
# the median of three runs: wall time per guess and the rate it gives, and
# processor time per guess and the rate one core gives (which a busy machine
# disturbs far less). Takes a few minutes.
set -eu
cd "$(dirname "$0")/.."
cpus=$(nproc)
echo "machine: $cpus cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(go test -run '^$' -bench Guess -cpu "1,$cpus" -count 3 -benchtime 2s ./client/v2crypto/)
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$out" | awk '
	function median(key, col,   m, a, b, t, s) {
		m = n[key]
		for (a = 1; a <= m; a++) s[a] = v[key, a, col]
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
		return s[int((m + 1) / 2)]
	}
	/^BenchmarkGuess/ {
		name = $1; sub(/^BenchmarkGuess/, "", name)
		cores = 1
		if (match(name, /-[0-9]+$/)) { cores = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
		key = name " " cores
		if (!(key in n)) order[++k] = key
		n[key]++
		v[key, n[key], "wall"] = $3
		v[key, n[key], "cpu"] = ($6 == "cpu-ns/op") ? $5 : 0
	}
	END {
		printf "%-20s %5s %14s %13s %14s %17s\n", "test", "cores", "wall ns/guess", "guesses/s", "cpu ns/guess", "guesses/s/core"
		for (i = 1; i <= k; i++) {
			key = order[i]; split(key, p, " ")
			w = median(key, "wall"); c = median(key, "cpu")
			printf "%-20s %5s %14.0f %13.4g %14.0f %17.4g\n", p[1], p[2], w, 1e9 / w, c, (c > 0 ? 1e9 / c : 0)
		}
	}'
