#!/usr/bin/env python3
"""Write the lab tables of README.md and notebooks/README.md from each lab's ``labs/<lab>/lab.yaml``.

README.md's "What each lab changes" table and notebooks/README.md's lab index are generated between
``<!-- BEGIN lab-table NAME -->`` and ``<!-- END lab-table NAME -->`` markers; the text around them is
left alone. ``--check`` changes nothing and exits 1 when a table is out of date.

    scripts/update-lab-tables.py [--check] [--root CHECKOUT]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from labkit import labinfo  # noqa: E402  (after the path set-up above)
from labkit.labinfo import LabMeta  # noqa: E402

ISTIO_NAMESPACE = "istio-system"  # how the README names the Istio namespace (cluster-up.sh installs there)


def _cell(text: str) -> str:
    """Markdown table cell text: a literal ``|`` would end the cell, and a ``*`` outside code (as in
    ``*.org``) would start emphasis."""
    parts = re.split(r"(`[^`]*`)", text)  # code spans stay as they are
    return "".join(p if p.startswith("`") else p.replace("*", "\\*") for p in parts).replace("|", "\\|")


def changes_table(metas: list[LabMeta]) -> str:
    """README.md: per lab, the external hosts it reaches, the kinds it creates and what it changes."""
    lines = [
        "| lab | external hosts | creates (kinds) | what it changes |",
        "|---|---|---|---|",
    ]
    for meta in metas:
        hosts = ", ".join(meta.hosts) or "—"
        kinds = ", ".join(dict.fromkeys(kind for _, kind in meta.kinds)) or "—"
        changes = "<br>".join(_cell(line) for line in meta.changes_in(ISTIO_NAMESPACE))
        lines.append(f"| `{meta.name}` | {hosts} | {kinds} | {changes} |")
    return "\n".join(lines)


def index_table(metas: list[LabMeta]) -> str:
    """notebooks/README.md: the labs in order, with what each teaches, its time and prerequisites."""
    lines = ["| # | notebook | what you learn | about | needs |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_cell(c) for c in labinfo.index_row(meta)) + " |" for meta in metas]
    return "\n".join(lines)


#: file (under the checkout) -> table name -> how to write it
TABLES: dict[str, dict[str, Callable[[list[LabMeta]], str]]] = {
    "README.md": {"changes": changes_table},
    "notebooks/README.md": {"index": index_table},
}


def render(text: str, name: str, table: str, where: Path) -> str:
    """``text`` with the block between the ``name`` markers replaced by ``table``."""
    pattern = re.compile(
        rf"(<!-- BEGIN lab-table {re.escape(name)} [^\n]*-->\n).*?(<!-- END lab-table {re.escape(name)} -->)",
        re.DOTALL,
    )
    if not pattern.search(text):
        raise SystemExit(f"{where}: no <!-- BEGIN lab-table {name} ... --> / <!-- END lab-table {name} --> markers")
    return pattern.sub(lambda m: f"{m.group(1)}{table}\n{m.group(2)}", text, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a table is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this script's)")
    args = parser.parse_args(argv)
    metas = labinfo.all_labs(args.root / "labs")
    stale = []
    for name_in_root, tables in TABLES.items():
        path = args.root / name_in_root
        before = path.read_text(encoding="utf-8")
        after = before
        for name, make in tables.items():
            after = render(after, name, make(metas), path)
        if after != before:
            stale.append(Path(name_in_root))
            if not args.check:
                path.write_text(after, encoding="utf-8")
    if stale and args.check:
        print(f"out of date: {', '.join(map(str, stale))}; run scripts/update-lab-tables.py", file=sys.stderr)
        return 1
    for path in stale:
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
