#!/usr/bin/env bash
# The project's one test command: quality gates, the Go suite on SQLite and
# on PostgreSQL, coverage, a short fuzz run, the browser tests and the
# release build. It installs what its tests need when it is missing.
#
#   scripts/test.sh            everything
#   scripts/test.sh go         only the gates and the Go suites
#
# PostgreSQL tests run when DAILYREPS_TEST_DATABASE_URL is set, for example
#   DAILYREPS_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
# and skip with a message otherwise. Each suite ends with the list of the
# tests it skipped; with DAILYREPS_FAIL_ON_SKIP=1 (CI) a skip that is not on
# .ci/allowed-skips fails the run.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/.."
what=${1:-all}
step() { printf '\n== %s\n' "$*"; }
# With -coverpkg each package's line would list every package measured.
short_cover() { sed -E 's/ of statements in .*/ of the server'"'"'s statements/'; }
# go test -json through gotestsum: go test's own lines, failures again and
# DONE N tests at the end, the events kept in $1 for skipcheck, which lists
# every skipped test.
gotest() {
	local events=$1
	shift
	go run gotest.tools/gotestsum@v1.13.0 --format standard-quiet --hide-summary skipped --jsonfile "$events" -- "$@"
}
skips() { go run ./scripts/skipcheck ${DAILYREPS_FAIL_ON_SKIP:+-strict} -allow .ci/allowed-skips "$@"; }

# The metrics tests run Debian's Prometheus (prometheus, promtool); without
# them they fail rather than skip, so install them when missing.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
	step "installing Debian's prometheus package (promtool) for the metrics tests"
	if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
	$sudo apt-get update -qq && $sudo apt-get install -y -qq prometheus >/dev/null
fi

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go') $(git ls-files --others --exclude-standard '*.go'))
if [ -n "$bad" ]; then echo "not gofmt-formatted:"; echo "$bad"; exit 1; fi

step "go vet"
go vet ./...
go vet -tags bodyguard ./hooks/

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "bench module (its own go.mod): go vet, staticcheck, go test"
# -mod=mod: the server's own dependencies come from ../go.mod, as in bench/run.sh.
(cd bench && export GOFLAGS=-mod=mod && go vet ./... &&
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -count=1 ./...)

# -tags bodyguard: a request body's memory, once released, stays reserved
# with no access instead of being unmapped (hooks/bodymap_guard.go), so that
# any use of a body after its request faults in the tests at once.
tags=-tags=bodyguard

cover=$(mktemp -d)
trap 'rm -rf "$cover"' EXIT
# Coverage counts the server's own packages, not the tools under scripts/.
pkgs=$(go list ./... | grep -v '/scripts/' | paste -sd, -)

step "go test (SQLite)"
gotest "$cover/sqlite.json" $tags -count=1 -timeout 15m -coverpkg="$pkgs" -coverprofile="$cover/sqlite.out" ./... 2>&1 | short_cover
skips "$cover/sqlite.json"

if [ -n "${DAILYREPS_TEST_DATABASE_URL:-}" ]; then
	step "go test (API suite on PostgreSQL)"
	DAILYREPS_TEST_BACKEND=postgres gotest "$cover/postgres.json" $tags -count=1 -timeout 15m -coverpkg="$pkgs" \
		-coverprofile="$cover/postgres.out" ./routes/... ./server/... ./e2e/... ./client/... ./commands/... 2>&1 | short_cover
	skips "$cover/postgres.json"
else
	step "go test (API suite on PostgreSQL): skipped, DAILYREPS_TEST_DATABASE_URL is not set"
fi

step "statement coverage"
go run ./scripts/covermerge "$cover"/*.out

if [ "$what" = go ]; then exit 0; fi

if [ -x scripts/fuzz-short.sh ]; then
	step "fuzz (short)"
	scripts/fuzz-short.sh
fi

if [ -x scripts/build-release.sh ]; then
	step "release build (the Dockerfile's build step)"
	scripts/build-release.sh "$cover/release"
fi

step "browser tests"
web/run-tests.sh
