"""Lab selection, check-record parsing and JUnit edge cases, without starting kernels."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labkit.checks import Check
from labkit.junit import to_element
from labkit.runner import CellError, LabInfo, LabResult, RunSummary, UnknownLab, read_checks, select


def test_select_accepts_numbers_names_and_paths(notebooks: Path) -> None:
    names = [lab.name for lab in select(["02", "1", "01-pass", "notebooks/02-fail.ipynb"], notebooks)]
    assert names == ["02-fail", "01-pass"]  # command-line order, duplicates dropped
    assert [lab.name for lab in select(None, notebooks)] == ["01-pass", "02-fail"]
    assert select(None, notebooks)[0].title == "Passing fixture lab"


def test_select_in_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(UnknownLab, match="no lab notebooks"):
        select(None, tmp_path)


def test_read_checks_tolerates_a_half_written_record(tmp_path: Path) -> None:
    path = tmp_path / "01-x.checks.json"
    path.write_text('[{"title": "a", "passed": true')
    checks, problem = read_checks(path)
    assert checks == [] and "unreadable" in problem

    path.write_text(json.dumps([{"title": "a", "passed": True, "attempts": 3, "future_field": 1}]))
    checks, problem = read_checks(path)
    assert problem == ""
    assert checks[0].title == "a" and checks[0].passed and checks[0].attempts == 3


def _result(tmp_path: Path, error: CellError | None, checks: list[Check]) -> LabResult:
    lab = LabInfo(name="03-x", path=tmp_path / "03-x.ipynb", number=3)
    return LabResult(lab=lab, backend="kube", output=tmp_path / "out.ipynb", error=error, checks=checks)


def test_junit_attributes_a_failing_check_error_to_the_check(tmp_path: Path) -> None:
    failed = Check(title="blocked", command="curl", expected="502", actual="200", passed=False)
    error = CellError(ename="ExpectationFailed", evalue="check failed: blocked", cell_index=4)
    result = _result(tmp_path, error, [failed])
    assert not result.error_outside_checks
    suite = to_element(RunSummary([result], "kube", tmp_path)).find("testsuite")
    assert suite is not None
    assert [tc.get("name") for tc in suite.findall("testcase")] == ["blocked"]
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    assert result.backend_used == "kube"


def test_junit_notebook_without_checks_is_one_testcase(tmp_path: Path) -> None:
    root = to_element(RunSummary([_result(tmp_path, None, [])], "sim", tmp_path))
    cases = root.findall(".//testcase")
    assert [tc.get("name") for tc in cases] == ["notebook"]
    assert not list(cases[0])  # passing: no failure or error child
    ET.fromstring(ET.tostring(root))


def test_parameters_from_the_command_line_keep_their_yaml_types_and_unknown_names_are_refused() -> None:
    from labkit import LabkitError
    from labkit.cli import parse_parameters
    from labkit.runner import check_parameters, select

    # papermill's own -y: values are YAML, so a list stays a list (issue 14's `-p https_hosts='[...]'`).
    assert parse_parameters(['https_hosts=["example.org"]', "client=curl"]) == {
        "https_hosts": ["example.org"],
        "client": "curl",
    }
    lab = select(["01"], None)[0]
    check_parameters(lab, {"https_hosts": ["example.org"]})
    with pytest.raises(LabkitError, match="did you mean"):
        check_parameters(lab, {"http_hots": "x"})
    with pytest.raises(LabkitError, match="--backend"):
        check_parameters(lab, {"backend": "kube"})
    with pytest.raises(LabkitError, match="NAME=VALUE"):
        parse_parameters(["no-equals-sign"])


def test_a_misspelled_backend_names_the_right_one(tmp_path: Path) -> None:
    from labkit.errors import LabkitError
    from labkit.runner import run_labs

    with pytest.raises(LabkitError, match="did you mean 'sim'"):
        run_labs(None, "smi", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
