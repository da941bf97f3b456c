#!/usr/bin/env python3
"""Renders the Helm chart's templates without Helm (none can be installed here), for the
subset of Go templates the chart uses: `{{ .Values.a.b }}`, `{{ .Release.Name }}`,
`{{ .Chart.Name }}` / `.Chart.AppVersion` / `.Chart.Version`, and the `quote` pipe.
Anything else is an error, so the chart cannot drift into constructs this check does not
understand. Each rendered document is parsed as YAML and checked for apiVersion, kind and
metadata.name; the rendered manifests are printed (for yamllint) on stdout.

    scripts/render-helm.py deploy/helm/switchboard [release-name]
"""

import json
import pathlib
import re
import sys

import yaml

ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def lookup(root, path, where):
    value = root
    for key in path:
        if not isinstance(value, dict) or key not in value:
            sys.exit(f"{where}: `{'.'.join(path)}` is not defined")
        value = value[key]
    return value


def render(text, context, where):
    def action(match):
        parts = [p.strip() for p in match.group(1).split("|")]
        head = parts[0].split()
        if len(head) != 1 or not head[0].startswith("."):
            sys.exit(f"{where}: unsupported template action `{match.group(0)}`")
        path = head[0][1:].split(".")
        value = lookup(context, path, where)
        for pipe in parts[1:]:
            if pipe != "quote":
                sys.exit(f"{where}: unsupported pipe `{pipe}`")
            value = json.dumps(str(value))
        if isinstance(value, (dict, list)):
            sys.exit(f"{where}: `{head[0]}` is not a scalar")
        return str(value)

    return ACTION.sub(action, text)


def main():
    chart = pathlib.Path(sys.argv[1])
    release = sys.argv[2] if len(sys.argv) > 2 else "release"
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    context = {
        "Values": yaml.safe_load((chart / "values.yaml").read_text()),
        "Release": {"Name": release, "Namespace": "default"},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    out = []
    for template in sorted((chart / "templates").glob("*.yaml")):
        rendered = render(template.read_text(), context, template)
        for doc in yaml.safe_load_all(rendered):
            if doc is None:
                continue
            for key in ("apiVersion", "kind"):
                if key not in doc:
                    sys.exit(f"{template}: rendered document lacks `{key}`")
            if not doc.get("metadata", {}).get("name"):
                sys.exit(f"{template}: rendered document lacks metadata.name")
        out.append(f"---\n# Source: {template.name}\n{rendered}")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
