#!/usr/bin/env bash
# Runs the reference clients' tests: protocol conformance of the JS module in
# Node, the page end to end in headless Chromium, and the Go client and the
# page exchanging backups, all against a freshly built server binary.
# Installs what is missing first (npm packages, Debian's chromium and sqlite3), so it
# works on a new machine and in CI. Exits non-zero when any test fails.
#
#   web/run-tests.sh              all tests
#   web/run-tests.sh protocol     only the Node protocol and client tests (no server, no browser)
#   web/run-tests.sh browser      only the page, and the v2 module against the server in Node and Chromium
#   web/run-tests.sh interop      only the Go client with the page (v1) and with the module in Chromium (v2)
#   web/run-tests.sh usability    only the page as a person uses it (screenshots in web/test-artifacts/)
#   web/run-tests.sh page-v2      only the page's account view (protocol v2), every flow
#
#   UPDATE_SCREENSHOT=1 web/run-tests.sh browser   also rewrites docs/screenshot.png
set -euo pipefail

export GOTOOLCHAIN=go1.27.3

web_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$web_dir/.." && pwd)"
cd "$web_dir"

suite="${1:-all}"
case "$suite" in
  all) files=(test/protocol.test.mjs test/protocol-v2.test.mjs test/client-v2.test.mjs test/browser.test.mjs test/client-v2-server.test.mjs
    test/interop.test.mjs test/interop-v2.test.mjs test/usability.test.mjs test/page-v2.test.mjs) ;;
  protocol) files=(test/protocol.test.mjs test/protocol-v2.test.mjs test/client-v2.test.mjs) ;;
  browser) files=(test/browser.test.mjs test/client-v2-server.test.mjs) ;;
  interop) files=(test/interop.test.mjs test/interop-v2.test.mjs) ;;
  usability | page-v2) files=("test/$suite.test.mjs") ;;
  *) echo "usage: $0 [all|protocol|browser|interop|usability|page-v2]" >&2; exit 2 ;;
esac

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$0: $1 is required: $2" >&2
    exit 1
  fi
}
need node "install Node.js 20 or newer"
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "$0: Node.js 20 or newer is required, found $(node --version)" >&2
  exit 1
fi

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  need npm "it comes with Node.js"
  npm ci --no-audit --no-fund
fi

if [ "$suite" != protocol ]; then
  need go "install Go; GOTOOLCHAIN fetches 1.27.3 by itself"
  chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  # playwright-core drives the distribution's browser: no browser downloads.
  # The account tests count rows in the server's database with sqlite3.
  missing=()
  [ -x "$chromium" ] || missing+=(chromium)
  command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
  if [ "${#missing[@]}" -gt 0 ]; then
    need apt-get "install ${missing[*]} (and set CHROMIUM_PATH to the browser)"
    as_root=""
    if [ "$(id -u)" -ne 0 ]; then
      need sudo "run as root, or install ${missing[*]} first"
      as_root=sudo
    fi
    $as_root apt-get update
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi

  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "building the server binary..."
  (cd "$repo_root" && go build -o "$tmp/dailyreps-backup" .)
  export DAILYREPS_BACKUP_BIN="$tmp/dailyreps-backup"
fi

# One test run over every file keeps a single summary at the end. The
# spec reporter prints it the same on a terminal and in a CI log; the
# timeout stops a hung browser from stalling CI.
node --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
