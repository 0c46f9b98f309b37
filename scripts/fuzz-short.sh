#!/usr/bin/env bash
# CI's short fuzzing pass: every fuzz target in the module, a few seconds
# each (FUZZTIME, default 5s). The seed corpora under */testdata/fuzz run in
# every plain `go test` too; this pass looks for new failures. A failing input
# is written to the package's testdata/fuzz and fails the run: fix the defect
# and commit the input, which then guards against it coming back.
#
#   scripts/fuzz-short.sh              all targets, 5s each
#   FUZZTIME=5m scripts/fuzz-short.sh  a longer hunt
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
# Minimizing each new interesting input may take a minute by default, which
# would eat a short run whole.
minimize=${FUZZMINIMIZETIME:-1s}

# Packages whose tests declare a fuzz target (web/ holds node_modules).
pkgs=$(grep -rl --include='*_test.go' --exclude-dir=web --exclude-dir=.git '^func Fuzz' . |
	xargs -n1 dirname | sort -u)
if [ -z "$pkgs" ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi

count=0
for pkg in $pkgs; do
	for target in $(grep -h '^func Fuzz' "$pkg"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' | sort -u); do
		echo "== $pkg $target ($fuzztime)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize"
		count=$((count + 1))
	done
done
echo "fuzzed $count targets for $fuzztime each"
