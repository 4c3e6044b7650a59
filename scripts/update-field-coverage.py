#!/usr/bin/env python3
"""Bring lib/labkit/sim/coverage.yaml in line with the Istio and Gateway API CRDs, keeping every existing
classification.

New field paths are added as ``not-modelled``; paths the CRDs no longer have are dropped (and listed).
The other kinds of the Istio and Gateway API groups are listed as refused. ``--check`` changes nothing and exits 1
when the table is out of date.

    scripts/update-field-coverage.py [--check] [--crds ../shared/istio/crd-all.gen.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "tests"))  # the CRD reader is test code: labkit never loads a CRD

from crd_validator import load_crds  # noqa: E402  (after the path set-up above)

from labkit.paths import istio_crds  # noqa: E402
from labkit.sim import coverage  # noqa: E402

HEADER = """\
# Every spec field of the Istio (and Gateway API) kinds the offline simulator reads, and whether it models it.
#   modelled           the simulator acts on it as Istio does; `test` names the pytest node that proves it
#   no-effect-offline  accepted; a single client can't observe its effect here (`reason` says why)
#   not-modelled       a document that sets it is refused by name on the simulator
# `values`, `max_items` or `pattern` narrow a classification to those values, list lengths or strings;
# anything outside them is refused like a not-modelled field.
# Paths: `[]` is a list item, `{}` a map value. Edit leaf fields by hand, then run
# scripts/update-field-coverage.py: it adds and drops paths as the CRDs change, keeps what is here, and
# gives each field that holds others the best status among them.
"""


def crd_paths(crd_file: Path, gateway_crd_file: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Field paths per classified kind, and every other kind of the Istio and Gateway API groups as
    ``group/Kind``."""
    fields = {}
    others = []
    for file, groups, classified in (
        (crd_file, coverage.ISTIO_GROUPS, [("networking.istio.io", k) for k in coverage.KINDS]),
        (
            gateway_crd_file,
            coverage.GATEWAY_API_GROUPS,
            [(coverage.GATEWAY_API_GROUP, k) for k in coverage.GATEWAY_API_KINDS],
        ),
    ):
        crds = load_crds(file)
        for group, kind in classified:
            schema = crds.openapi_schema(group, kind, coverage.VERSION)
            if schema is None:
                raise SystemExit(f"{file} has no {group}/{coverage.VERSION} {kind}")
            fields[coverage.table_key(group, kind)] = coverage.schema_paths(schema["properties"]["spec"])
        others += [
            f"{group}/{kind}" for group in groups for kind in crds.kinds(group) if (group, kind) not in classified
        ]
    return fields, sorted(others)


def entry_line(path: str, entry: dict[str, Any]) -> str:
    flow = yaml.safe_dump(entry, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return f"    {path}: {flow}"


def render(fields: dict[str, dict[str, dict[str, Any]]], refused: list[str]) -> str:
    lines = [HEADER.rstrip("\n"), "kinds:"]
    for kind in sorted(fields):
        lines.append(f"  {kind}:")
        lines.extend(entry_line(path, fields[kind][path]) for path in sorted(fields[kind]))
    lines.append("# Kinds the simulator does not model at all: applying one is refused.")
    lines.append("refused_kinds:")
    lines.extend(f"  - {kind}" for kind in refused)
    return "\n".join(lines) + "\n"


def merged(crd_file: Path, table_file: Path, gateway_crd_file: Path | None = None) -> tuple[str, list[str], list[str]]:
    """The new file text, the paths added and the paths dropped."""
    wanted, refused = crd_paths(crd_file, gateway_crd_file or gateway_crds(crd_file))
    old = (yaml.safe_load(table_file.read_text(encoding="utf-8")) or {}) if table_file.exists() else {}
    old_kinds = old.get("kinds") or {}
    fields: dict[str, dict[str, dict[str, Any]]] = {}
    added, dropped = [], []
    for kind, paths in wanted.items():
        existing = old_kinds.get(kind) or {}
        fields[kind] = {}
        for path in paths:
            if path in existing:
                fields[kind][path] = existing[path]
            else:
                fields[kind][path] = {"status": coverage.NOT_MODELLED}
                added.append(f"{kind} {path}")
        dropped.extend(f"{kind} {path}" for path in existing if path not in fields[kind])
        derive_containers(fields[kind])
    return render(fields, refused), added, dropped


def derive_containers(entries: dict[str, dict[str, Any]]) -> None:
    """A field with fields below it takes the best status among them: setting it is allowed as far as
    what it holds is. Its ``values`` or ``max_items`` limits, set by hand, are kept."""
    children: dict[str, list[str]] = {}
    for path in entries:
        parent = path.rpartition(".")[0].removesuffix("{}").removesuffix("[]")
        if parent in entries:
            children.setdefault(parent, []).append(path)
    for parent in sorted(children, key=lambda p: -p.count(".")):
        below = [entries[c] for c in sorted(children[parent])]
        limits = {k: v for k, v in entries[parent].items() if k in ("values", "max_items", "pattern")}
        modelled = [e for e in below if e["status"] == coverage.MODELLED]
        if modelled:
            entry = {"status": coverage.MODELLED, "test": modelled[0]["test"]}
        elif any(e["status"] == coverage.NO_EFFECT_OFFLINE for e in below):
            entry = {"status": coverage.NO_EFFECT_OFFLINE, "reason": "holds only the fields below that have no effect"}
        else:
            entry = {"status": coverage.NOT_MODELLED}
        entries[parent] = {**entry, **limits}


def gateway_crds(crd_file: Path) -> Path:
    """The Gateway API CRDs Istio tests with, published beside its own CRD file."""
    return crd_file.with_name("gateway-api-crd.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    parser.add_argument("--crds", type=Path, default=istio_crds(), help="the Istio CRD file")
    parser.add_argument("--gateway-crds", type=Path, help="the Gateway API CRD file (default: beside --crds)")
    parser.add_argument("--table", type=Path, default=coverage.TABLE_FILE, help="the coverage table")
    args = parser.parse_args(argv)
    if args.crds is None:
        parser.error("no Istio CRD file found: pass --crds or set LABKIT_ISTIO_CRDS")
    text, added, dropped = merged(args.crds, args.table, args.gateway_crds)
    for path in added:
        print(f"new, not-modelled: {path}")
    for path in dropped:
        print(f"gone from the CRDs, dropped: {path}")
    current = args.table.read_text(encoding="utf-8") if args.table.exists() else ""
    if args.check:
        if text != current:
            print(f"{args.table} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if text != current:
        args.table.write_text(text, encoding="utf-8")
        print(f"wrote {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
