"""The lab's table of checks and summary.md count the same checks, the cleanup check included."""

from __future__ import annotations

from pathlib import Path

import nbformat

from labkit.reports import summary_markdown
from labkit.runner import run_labs

SETUP = """\
from labkit.checks import Check, CheckTable, record

def check(title):
    return Check(title=title, command=title, expected="1", actual="1", passed=True)

checks = [check("first lesson check")]
record(checks, "01-live")"""
# The labs' order: lab.report() shows the table, then the last cell cleans up and checks that.
REPORT = 'CheckTable(checks, title="Checks: 01-live")'
CLEANUP = """\
checks.append(check("cleanup restored ALLOW_ANY"))
record(checks, "01-live")"""


def _lab(directory: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('backend = "auto"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Live report"), params]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in (SETUP, REPORT, CLEANUP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = directory / "01-live.ipynb"
    nbformat.write(nb, path)
    return path


def test_table_and_summary_count_the_cleanup_check(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _lab(notebooks)
    summary = run_labs(None, "sim", tmp_path / "out", notebooks_dir=notebooks, progress=False)
    result = summary.results[0]
    assert result.passed, result.error
    assert [c.title for c in result.checks] == ["first lesson check", "cleanup restored ALLOW_ANY"]
    assert "| 2/2 |" in summary_markdown(summary)

    executed = nbformat.read(result.output, as_version=4)
    report_cell = next(c for c in executed.cells if c.source == REPORT)
    texts = [o["data"]["text/plain"] for o in report_cell.outputs if "data" in o]
    assert len(texts) == 1  # redrawn in place, not shown a second time
    assert "cleanup restored ALLOW_ANY" in texts[0]
    assert "2/2 passed" in texts[0]
