#!/usr/bin/env bash
# Browser tests of the web widget (tests/browser/): Playwright (playwright-core, pinned in
# package-lock.json) driving Debian's Chromium against the debug binary that `cargo test`
# built. Installs what is missing first: Chromium with apt-get, the npm packages with
# `npm ci`. Set SWITCHBOARD_BIN to test another binary, CHROMIUM for another browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  echo "== installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

# npm writes node_modules/.package-lock.json on install: older than package-lock.json
# means the pinned versions changed since.
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ] \
  || [ ! -d node_modules/@codemirror/view ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  # The browser comes from Debian: playwright must not try to download one.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

bin="${SWITCHBOARD_BIN:-target/debug/switchboard}"
if [ ! -x "$bin" ]; then
  echo "== cargo build (no $bin yet)"
  cargo build --bin switchboard
fi

echo "== browser tests (tests/browser/*.spec.mjs)"
node --test --test-concurrency=1 tests/browser/widget.spec.mjs tests/browser/phase2.spec.mjs tests/browser/console.spec.mjs
