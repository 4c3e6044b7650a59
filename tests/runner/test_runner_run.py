"""run_labs on real notebooks: statuses, check records, rendering and the JUnit report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from labkit.junit import write_junit
from labkit.runner import RunSummary, UnknownLab, run_labs


def _render(renderable: object) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_statuses_and_checks(ran: tuple[RunSummary, dict, dict]) -> None:
    summary, _, _ = ran
    assert [r.name for r in summary.results] == ["01-pass", "02-fail"]
    ok, bad = summary.results
    assert (ok.status, bad.status) == ("passed", "failed")
    assert not summary.passed
    assert summary.failed == [bad]

    # The stale record was removed; these are the two checks the kernel wrote.
    assert [c.title for c in ok.checks] == ["backend parameter injected", "runs in the notebooks directory"]
    assert all(c.passed for c in ok.checks)
    # papermill injected the backend, and the kernel ran inside the notebooks directory.
    assert ok.checks[0].actual == "sim"
    assert ok.error is None and ok.seconds > 0

    assert bad.error is not None
    assert bad.error.ename == "RuntimeError"
    assert "boom" in bad.error.evalue
    assert bad.error.cell_index is not None
    assert [c.passed for c in bad.checks] == [True, False]
    assert bad.error_outside_checks  # a RuntimeError is not a failing check

    assert ok.simulated and ok.backend_used == "sim"
    for r in summary.results:
        assert r.output.is_file() and r.output.parent == summary.out


def test_kernel_environment_restored(ran: tuple[RunSummary, dict, dict]) -> None:
    _, before, after = ran
    assert after == before


def test_summary_renders_failure_details(ran: tuple[RunSummary, dict, dict]) -> None:
    summary, _, _ = ran
    text = _render(summary)
    assert "PASSED" in text and "FAILED" in text
    assert "egress is blocked" in text
    assert "expected: HTTP 502" in text and "actual:   HTTP 200" in text
    assert "RuntimeError: fixture boom" in text
    assert "simulated" in text
    assert "1/2 labs passed" in text


def test_junit_report(ran: tuple[RunSummary, dict, dict], tmp_path: Path) -> None:
    summary, _, _ = ran
    path = write_junit(summary, tmp_path / "reports" / "junit.xml")
    root = ET.parse(path).getroot()  # also proves the XML is well formed despite ANSI in tracebacks
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")

    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["01-pass", "02-fail"]
    passing = suites["01-pass"].findall("testcase")
    assert len(passing) == 2
    assert all(tc.get("classname") == "01-pass" for tc in passing)
    assert not suites["01-pass"].findall(".//failure") and not suites["01-pass"].findall(".//error")

    cases = {tc.get("name"): tc for tc in suites["02-fail"].findall("testcase")}
    assert list(cases) == ["backend parameter injected", "egress is blocked", "notebook"]
    failure = cases["egress is blocked"].find("failure")
    assert failure is not None
    assert "HTTP 502" in failure.get("message", "") and "HTTP 200" in failure.get("message", "")
    assert "REGISTRY_ONLY" in (failure.text or "")
    error = cases["notebook"].find("error")
    assert error is not None and error.get("type") == "RuntimeError"
    assert "fixture boom" in (error.text or "")
    assert "\x1b" not in path.read_text()


def test_unknown_lab_lists_choices_and_runs_nothing(notebooks: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UnknownLab) as info:
        run_labs(["01", "99"], "sim", out, notebooks_dir=notebooks, progress=False)
    message = str(info.value)
    assert "99" in message
    assert "01-pass" in message and "02-fail" in message
    assert not out.exists()


def test_bad_backend_is_rejected(notebooks: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="auto, sim, kube"):
        run_labs(None, "cloud", tmp_path, notebooks_dir=notebooks, progress=False)
