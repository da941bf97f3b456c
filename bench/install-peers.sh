#!/usr/bin/env bash
# Installs the peers bench/run.sh compares Switchboard with, from the package registries.
# Idempotent: whatever is already installed at the pinned version is left alone.
#
#   node-ws   npm `ws` (bench/peers/node-ws, from its committed package-lock.json)
#   litellm   PyPI `litellm[proxy]` in a virtualenv under bench/.peers/ (~740 MB)
#
# The bare tokio-tungstenite echo server and the fake upstream are Rust binaries of
# bench/harness, built by run.sh itself.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# 1.106.0: the newest release whose dependencies all resolve from the registry here
# (later patch releases require certifi>=2026.10.19, which it does not have yet).
LITELLM_VERSION="${LITELLM_VERSION:-1.106.0}"

node_ws() {
  local dir="$BENCH/peers/node-ws"
  if [[ -f "$dir/node_modules/ws/package.json" ]]; then
    echo "peers: node ws $(node -p "require('$dir/node_modules/ws/package.json').version") present"
    return
  fi
  echo "peers: installing node ws (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

litellm() {
  local venv="$BENCH/.peers/litellm"
  if [[ -x "$venv/bin/litellm" ]] &&
     [[ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" == "$LITELLM_VERSION" ]]; then
    echo "peers: litellm $LITELLM_VERSION present"
    return
  fi
  echo "peers: installing litellm[proxy]==$LITELLM_VERSION into $venv (about 740 MB; a few minutes)"
  mkdir -p "$BENCH/.peers"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
}

case "${1:-all}" in
  node-ws) node_ws ;;
  litellm) litellm ;;
  all) node_ws; litellm ;;
  *) echo "usage: $0 [all|node-ws|litellm]" >&2; exit 2 ;;
esac
