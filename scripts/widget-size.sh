#!/usr/bin/env bash
# Prints the web widget's size as served: raw and gzipped (the CSS is inside the JS, so
# this is JS + CSS). The budget is 30 KB gzipped (issue #12); docs/widget.md states it.
set -euo pipefail
cd "$(dirname "$0")/.."
file=static/widget.js
raw=$(wc -c < "$file")
gz=$(gzip -9 -c "$file" | wc -c)
awk -v raw="$raw" -v gz="$gz" 'BEGIN {
  printf "widget.js (JS + CSS): %d bytes raw, %d bytes gzipped (%.1f KB; budget 30 KB)\n", raw, gz, gz / 1024 }'
[ "$gz" -le 30720 ] || { echo "over the 30 KB budget" >&2; exit 1; }
