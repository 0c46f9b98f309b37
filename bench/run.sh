#!/usr/bin/env bash
# Runs the benchmark (see BENCHMARKS.md): bench/run.sh [-quick] [flags]
# PostgreSQL is measured too when DAILYREPS_BENCH_DATABASE_URL is set.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
if ! command -v wrk >/dev/null; then
	echo "bench: wrk is missing; installing it (Debian's package)" >&2
	apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
cd "$(dirname "$0")"
# -mod=mod: the server's own dependencies come from ../go.mod and may move on.
go build -mod=mod -o "${TMPDIR:-/tmp}/dailyreps-bench" .
exec "${TMPDIR:-/tmp}/dailyreps-bench" "$@"
