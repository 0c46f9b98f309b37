#!/usr/bin/env bash
# Runs the reference web client's tests: protocol conformance in Node, then the
# page end to end in headless Chromium against a freshly built server binary.
# Installs what is missing first, so it works on a new machine and in CI.
#
#   web/run-tests.sh              all tests
#   web/run-tests.sh protocol     only the Node protocol tests (no server, no browser)
set -euo pipefail

export GOTOOLCHAIN=go1.27.3

web_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$web_dir/.." && pwd)"
cd "$web_dir"

suite="${1:-all}"
case "$suite" in
  all | protocol) ;;
  *) echo "usage: $0 [all|protocol]" >&2; exit 2 ;;
esac

if [ ! -d node_modules/playwright-core ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

if [ "$suite" = protocol ]; then
  exec node --test test/protocol.test.mjs
fi

if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "building the server binary..."
(cd "$repo_root" && go build -o "$tmp/dailyreps-backup" .)
export DAILYREPS_BACKUP_BIN="$tmp/dailyreps-backup"

# One node process for both files keeps a single summary, which CI reads.
node --test test/protocol.test.mjs test/browser.test.mjs
