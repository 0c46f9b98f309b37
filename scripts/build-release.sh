#!/bin/sh
# Builds the release binary: static (CGO off, so it runs on a scratch or
# distroless image), without local paths, stamped with its version. This is
# the Dockerfile's build step; CI runs it and tests what it produces
# (e2e/docker_test.go), so the image is built by a tested script.
#
#   scripts/build-release.sh OUTPUT_DIR
#
# Environment: VERSION (default: git describe, else "dev"); GOOS and GOARCH
# to cross-compile (the Dockerfile passes the target platform's).
set -eu

out=${1:?usage: scripts/build-release.sh OUTPUT_DIR}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
case $version in
*[!A-Za-z0-9._+-]*) echo "VERSION may hold only letters, digits and . _ + -" >&2; exit 2 ;;
esac

mkdir -p "$out"
CGO_ENABLED=0 go build \
	-trimpath \
	-buildvcs=false \
	-ldflags "-s -w -X github.com/dailyreps/backup/routes.Version=$version" \
	-o "$out/dailyreps-backup" \
	.
echo "built $out/dailyreps-backup ($version, $(go env GOOS)/$(go env GOARCH))"
