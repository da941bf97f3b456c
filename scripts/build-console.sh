#!/usr/bin/env bash
# Builds the admin console's editor bundle, static/console/editor.js, from
# static/console/editor.entry.mjs and the CodeMirror 6 packages pinned (exact versions)
# in package.json / package-lock.json, with the pinned esbuild. The bundle is committed,
# so the binary serves the console with no Node installed.
#
#   scripts/build-console.sh           rebuild static/console/editor.js
#   scripts/build-console.sh --check   fail when the committed bundle differs from a
#                                      fresh build (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/esbuild ] || [ ! -d node_modules/@codemirror/view ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

out=static/console/editor.js
build() {
  node_modules/.bin/esbuild static/console/editor.entry.mjs --bundle --format=iife \
    --minify --target=es2020 --legal-comments=eof --charset=utf8 --log-level=warning \
    --outfile="$1"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  build "$tmp/editor.js"
  if ! cmp -s "$tmp/editor.js" "$out"; then
    echo "static/console/editor.js is not the build of its sources: run scripts/build-console.sh and commit it" >&2
    exit 1
  fi
  echo "static/console/editor.js matches its sources ($(wc -c <"$out") bytes)"
else
  build "$out"
  echo "built $out ($(wc -c <"$out") bytes)"
fi
