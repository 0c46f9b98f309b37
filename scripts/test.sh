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
# and skip with a message otherwise.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/.."
what=${1:-all}
step() { printf '\n== %s\n' "$*"; }
# With -coverpkg each package's line would list every package measured.
short_cover() { sed -E 's/ of statements in .*/ of the server'"'"'s statements/'; }

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go') $(git ls-files --others --exclude-standard '*.go'))
if [ -n "$bad" ]; then echo "not gofmt-formatted:"; echo "$bad"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "bench module (its own go.mod): go vet, staticcheck, go test"
# -mod=mod: the server's own dependencies come from ../go.mod, as in bench/run.sh.
(cd bench && export GOFLAGS=-mod=mod && go vet ./... &&
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -count=1 ./...)

cover=$(mktemp -d)
trap 'rm -rf "$cover"' EXIT
# Coverage counts the server's own packages, not the tools under scripts/.
pkgs=$(go list ./... | grep -v '/scripts/' | paste -sd, -)

step "go test (SQLite)"
go test -count=1 -timeout 15m -coverpkg="$pkgs" -coverprofile="$cover/sqlite.out" ./... 2>&1 | short_cover

if [ -n "${DAILYREPS_TEST_DATABASE_URL:-}" ]; then
	step "go test (API suite on PostgreSQL)"
	DAILYREPS_TEST_BACKEND=postgres go test -count=1 -timeout 15m -coverpkg="$pkgs" \
		-coverprofile="$cover/postgres.out" ./routes/... ./server/... ./e2e/... ./client/... ./commands/... 2>&1 | short_cover
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
