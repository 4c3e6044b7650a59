"""What a run leaves in ``--out``: executed notebooks (written by the runner), an HTML rendering of
each, ``junit.xml`` (one test case per check) and ``summary.md``, a Markdown table a CI job can
append to ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .junit import write_junit
from .runner import LabResult, RunSummary, strip_ansi

SUMMARY_FILE = "summary.md"
JUNIT_FILE = "junit.xml"


@dataclass
class Reports:
    """The files written for one run, and the renderings that could not be made."""

    junit: Path
    summary: Path
    html: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write_reports(summary: RunSummary, out: Path | None = None) -> Reports:
    """Write every report for ``summary`` into ``out`` (default: the run's own directory)."""
    out = Path(out or summary.out)
    out.mkdir(parents=True, exist_ok=True)
    reports = Reports(junit=write_junit(summary, out / JUNIT_FILE), summary=out / SUMMARY_FILE)
    for result in summary.results:
        try:
            page = render_html(result.output, out / html_name(result))
        except Exception as exc:  # one notebook that can't be rendered must not lose the other reports
            reports.problems.append(f"{result.name}: no HTML rendering: {exc}")
            continue
        if page is not None:
            reports.html.append(page)
    reports.summary.write_text(summary_markdown(summary), encoding="utf-8")
    return reports


def html_name(result: LabResult) -> str:
    """The HTML page's file name: the executed notebook's, with ``.html``."""
    return result.output.with_suffix(".html").name


def render_html(notebook: Path, target: Path) -> Path | None:
    """The executed notebook as a standalone HTML page; None when the notebook was never written
    (papermill could not even start the kernel). A page newer than its notebook is kept as it is:
    ``labkit run`` renders each lab's page as soon as the lab ends, while the others still run."""
    if not notebook.is_file():
        return None
    with _render_lock:
        if target.is_file() and target.stat().st_mtime_ns >= notebook.stat().st_mtime_ns:
            return target
        body, _ = _exporter().from_filename(str(notebook))
        target.write_text(body, encoding="utf-8")
    return target


#: One exporter for every page (its templates load once); pages render one at a time.
_render_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import HTMLExporter  # slow to import; only reports need it

    return HTMLExporter()


def summary_markdown(summary: RunSummary) -> str:
    """A Markdown table, one row per lab: result, checks passed/total, n/a count, first failure."""
    passed = sum(r.passed for r in summary.results)
    lines = [
        f"### Istio egress labs: {passed}/{len(summary.results)} passed (backend {_backend(summary)})",
        "",
        "| lab | result | checks passed | n/a | first failure |",
        "|---|---|---|---|---|",
    ]
    for r in summary.results:
        n_na = sum(c.skipped for c in r.checks)
        n_ok = sum(c.passed for c in r.checks)
        result = "✅ passed" if r.passed else "❌ failed"
        lines.append(f"| `{r.name}` | {result} | {n_ok}/{len(r.checks) - n_na} | {n_na} | {_cell(first_failure(r))} |")
    lines.append("")
    if any(r.simulated for r in summary.results):
        lines += ["Simulated: checks ran against labkit's offline mesh simulator, not a real cluster.", ""]
    lines += [
        "Executed notebooks, their HTML renderings and `junit.xml` are in the run's output folder.",
        "",
    ]
    return "\n".join(lines)


def first_failure(r: LabResult) -> str:
    """One line: the first failed check, else the error that stopped the notebook, else what it left."""
    if r.failed_checks:
        c = r.failed_checks[0]
        return f"{c.title}: expected {c.expected}, got {c.actual}"
    if r.error is not None:
        where = f"cell {r.error.cell_index + 1}: " if r.error.cell_index is not None else ""
        return where + r.error.short()
    if r.cluster is not None and r.cluster.problems:
        return r.cluster.problems[0]
    return r.record_problem


def _backend(summary: RunSummary) -> str:
    used = sorted({r.backend_used for r in summary.results})
    if not used or used == [summary.backend]:
        return summary.backend
    return f"{summary.backend} → {', '.join(used)}"


def _cell(text: str, limit: int = 300) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, not too long."""
    text = " ".join(strip_ansi(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|")
