#!/usr/bin/env bash
# Fuzzes the admin API with schemathesis (PyPI), driven by /v1/openapi.json: every
# generated request must get a non-5xx answer. Installs schemathesis into a venv under
# target/, builds and starts a throwaway server on 127.0.0.1:18080 with SQLite in a
# temp dir, runs the fuzzing and stateful phases, and stops the server.
# Usage: scripts/fuzz-admin-api.sh [max examples per operation, default 40]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-40}"
venv=target/schemathesis-venv
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis; }
cargo build -q
work=$(mktemp -d)
key=fuzz-bootstrap-key-0123456789abcdef
(cd "$work" && SWITCHBOARD__SERVER__BIND=127.0.0.1:18080 SWITCHBOARD__ADMIN__BOOTSTRAP_KEY=$key \
  SWITCHBOARD__DEMO__FLOWS_DIR="$OLDPWD/flows" SWITCHBOARD__LOG__FILTER=error \
  "$OLDPWD/target/debug/switchboard" serve >"$work/server.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.tenant" = "demo"
"path.flow" = "demo"
"path.version" = 1
TOML
cd "$work"
"$OLDPWD/$venv/bin/schemathesis" run http://127.0.0.1:18080/v1/openapi.json \
  --header "Authorization: Bearer $key" --checks not_a_server_error \
  --phases fuzzing,stateful --max-examples "$examples" --workers 2
