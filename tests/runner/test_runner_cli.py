"""The labkit command line: exit codes, output, and argument errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import labkit
from labkit import cli
from labkit.backend import DoctorItem


def _run(notebooks: Path, out: Path, *labs: str) -> int:
    return cli.main(["run", *labs, "--backend", "sim", "--out", str(out), "--notebooks", str(notebooks), "-q"])


def test_run_passing_lab_exits_0(notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(notebooks, tmp_path, "01") == 0
    assert "PASSED" in capsys.readouterr().out
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["01-pass"]
    assert (tmp_path / "01-pass.ipynb").is_file()


def test_run_failing_lab_exits_1(notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(notebooks, tmp_path, "02-fail") == 1
    assert "FAILED" in capsys.readouterr().out
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.get("failures") == "1" and root.get("errors") == "1"


def test_run_unknown_lab_exits_2_listing_labs(
    notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(notebooks, tmp_path / "out", "nope") == 2
    err = capsys.readouterr().err
    assert "unknown lab: nope" in err
    assert "01-pass" in err and "02-fail" in err
    assert not (tmp_path / "out").exists()


def test_list_shows_titles(notebooks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "--notebooks", str(notebooks)]) == 0
    out = capsys.readouterr().out
    assert "01-pass" in out and "Passing fixture lab" in out
    assert "02-fail" in out and "Failing fixture lab" in out


@pytest.mark.parametrize("argv", [[], ["run", "--backend", "cloud"], ["frobnicate"], ["run", "--timeout", "soon"]])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "usage: labkit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([DoctorItem("python", True, "3.11"), DoctorItem("cluster", None, "not needed for sim")], 0),
        ([DoctorItem("python", True, "3.11"), DoctorItem("kubectl", False, "missing", "install kubectl")], 1),
    ],
)
def test_doctor_exit_code_follows_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], items: list[DoctorItem], code: int
) -> None:
    asked: list[str] = []

    def fake_report(backend: str) -> tuple[str, list[DoctorItem]]:
        asked.append(backend)
        return "sim", items

    monkeypatch.setattr(labkit, "doctor_report", fake_report, raising=False)
    assert cli.main(["doctor", "--backend", "sim"]) == code
    assert asked == ["sim"]
    out = capsys.readouterr().out
    assert "python" in out and "3.11" in out
    if code:
        assert "FAILED" in out and "install kubectl" in out
    else:
        assert "info" in out and "FAILED" not in out
