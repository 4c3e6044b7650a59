"""The reports a run leaves in --out: executed notebooks, their HTML, junit.xml and summary.md."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from labkit import cli
from labkit.checks import Check
from labkit.reports import summary_markdown, write_reports
from labkit.runner import CellError, LabInfo, LabResult, RunSummary
from labkit.snapshot import ClusterReport

LAB = "02-tls-origination"


def test_a_real_lab_on_the_simulator_leaves_all_four_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "02", "--backend", "sim", "--out", str(out), "-q"]) == 0
    checks = json.loads((out / f"{LAB}.checks.json").read_text())
    assert checks and all(c["passed"] for c in checks)

    # 1. the executed notebook, with outputs
    executed = nbformat.read(out / f"{LAB}.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")

    # 2. its HTML rendering, showing what the notebook printed
    html = (out / f"{LAB}.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Lab 02" in html  # the notebook's heading
    assert "PASS" in html and html.count("PASS") >= len(checks)  # each check as the notebook showed it

    # 3. junit.xml, one test case per check
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == LAB
    assert [tc.get("name") for tc in suite.findall("testcase")] == [c["title"] for c in checks]

    # 4. summary.md, a table a CI job can append to its step summary
    summary = (out / "summary.md").read_text()
    assert f"| `{LAB}` | ✅ passed | {len(checks)}/{len(checks)} | 0 |  |" in summary
    assert "backend sim" in summary and "Simulated" in summary


def _result(name: str, checks: list[Check], **kw: object) -> LabResult:
    info = LabInfo(name=name, path=Path(f"/nb/{name}.ipynb"), number=int(name[:2]))
    return LabResult(lab=info, backend="kube", output=Path(f"/nowhere/{name}.ipynb"), checks=checks, **kw)  # type: ignore[arg-type]


def _check(title: str, passed: bool = True, skipped: bool = False, **kw: str) -> Check:
    return Check(
        title=title,
        command="curl",
        expected=kw.get("expected", "status 200"),
        actual=kw.get("actual", "status 200"),
        passed=passed,
        skipped=skipped,
    )


def test_summary_table_counts_and_first_failures() -> None:
    summary = RunSummary(
        results=[
            _result("01-a", [_check("ok"), _check("n/a step", passed=False, skipped=True)]),
            _result(
                "02-b",
                [_check("ok"), _check("pipes | and\nnewlines", passed=False, actual="status 502"), _check("x", False)],
            ),
            _result(
                "03-c",
                [_check("ok")],
                error=CellError("NameError", "name 'x' is not defined", cell_index=4),
            ),
            _result(
                "04-d",
                [_check("ok")],
                cluster=ClusterReport(left_behind=["ServiceEntry/default/x is still there"]),
            ),
        ],
        backend="kube",
        out=Path("/out"),
    )
    text = summary_markdown(summary)
    assert "1/4 passed (backend kube)" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `01-a` | ✅ passed | 1/1 | 1 |  |",
        "| `02-b` | ❌ failed | 1/3 | 0 | pipes \\| and newlines: expected status 200, got status 502 |",
        "| `03-c` | ❌ failed | 1/1 | 0 | cell 5: NameError: name 'x' is not defined |",
        "| `04-d` | ❌ failed | 1/1 | 0 | left behind: ServiceEntry/default/x is still there |",
    ]
    assert "Simulated" not in text


def test_a_notebook_that_cannot_be_rendered_does_not_lose_the_other_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = tmp_path / "01-a.ipynb", tmp_path / "02-b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A lab")]), good)
    bad.write_text("{not json")
    results = [_result("01-a", [_check("ok")]), _result("02-b", [_check("ok")]), _result("03-c", [])]
    results[0].output, results[1].output = good, bad  # 03-c never started: no notebook at all
    reports = write_reports(RunSummary(results=results, backend="sim", out=tmp_path))
    assert reports.html == [tmp_path / "01-a.html"]
    assert "A lab" in (tmp_path / "01-a.html").read_text()
    assert len(reports.problems) == 1 and reports.problems[0].startswith("02-b: no HTML rendering:")
    assert reports.junit.is_file() and reports.summary.is_file()
    assert not (tmp_path / "03-c.html").exists()


def test_a_page_rendered_while_the_run_went_on_is_kept_and_a_stale_one_redone(tmp_path: Path) -> None:
    from labkit.reports import render_html

    notebook, page = tmp_path / "01-a.ipynb", tmp_path / "01-a.html"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# First run")]), notebook)
    render_html(notebook, page)
    page.write_text("rendered as the lab ended")  # newer than its notebook: write_reports keeps it
    assert render_html(notebook, page) == page and page.read_text() == "rendered as the lab ended"
    os.utime(page, ns=(0, 0))  # older than the notebook, as a page left by an earlier run
    assert "First run" in (render_html(notebook, page) or Path()).read_text()
