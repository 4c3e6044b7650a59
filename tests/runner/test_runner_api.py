"""``labkit run --api istio|gateway-api|both``: labs whose parameters cell sets ``api`` run with the
value given, or once per value; the others run once, as they are."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from labkit import cli
from labkit.errors import LabkitError
from labkit.runner import API_PARAMETER, LabInfo, plan_runs, select

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

#: What labkit's checks module does in a lab: write the check records where the runner asked.
RECORD = """
import json, os
from pathlib import Path
title = f"ran with api={globals().get('api', 'none')}"
record = Path(os.environ["LABKIT_RECORD_DIR"]) / f"{os.environ['LABKIT_LAB']}.checks.json"
record.write_text(json.dumps([{"title": title, "expected": "x", "actual": "x", "passed": True}]))
print(title)
"""


def _lab(directory: Path, name: str, parameters: str) -> None:
    cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(RECORD),
    ]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, directory / f"{name}.ipynb")


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    directory = tmp_path / "nb"
    directory.mkdir()
    _lab(directory, "01-routed", 'backend = "auto"\napi = "istio"  # "istio" | "gateway-api"')
    _lab(directory, "02-plain", 'backend = "auto"')
    return directory


def test_both_runs_each_lab_that_takes_api_once_per_value(notebooks: Path) -> None:
    runs = plan_runs(select(None, notebooks), {}, "both")
    assert [(r.name, dict(r.parameters)) for r in runs] == [
        ("01-routed [istio]", {API_PARAMETER: "istio"}),
        ("01-routed [gateway-api]", {API_PARAMETER: "gateway-api"}),
        ("02-plain", {}),
    ]
    assert [r.stem for r in runs] == ["01-routed.istio", "01-routed.gateway-api", "02-plain"]


def test_one_value_goes_to_the_labs_that_take_it(notebooks: Path) -> None:
    runs = plan_runs(select(None, notebooks), {}, "gateway-api")
    assert [(r.name, dict(r.parameters)) for r in runs] == [
        ("01-routed [gateway-api]", {API_PARAMETER: "gateway-api"}),
        ("02-plain", {}),
    ]


def test_without_api_each_notebook_keeps_its_own_default(notebooks: Path) -> None:
    assert [(r.name, dict(r.parameters)) for r in plan_runs(select(None, notebooks), {}, None)] == [
        ("01-routed", {}),
        ("02-plain", {}),
    ]


def test_api_and_p_api_together_are_refused_naming_both(notebooks: Path) -> None:
    with pytest.raises(LabkitError) as caught:
        plan_runs(select(None, notebooks), {"api": "istio"}, "both")
    assert "-p api=istio" in str(caught.value) and "--api both" in str(caught.value)


def test_p_api_alone_still_works(notebooks: Path) -> None:
    assert [r.name for r in plan_runs(select(["01"], notebooks), {"api": "gateway-api"}, None)] == ["01-routed"]


def test_api_for_labs_that_have_no_api_parameter_is_refused(notebooks: Path) -> None:
    with pytest.raises(LabkitError, match=r"none of the selected labs \(02-plain\) has an 'api' parameter"):
        plan_runs(select(["02"], notebooks), {}, "istio")


def test_a_misspelt_api_value_gets_a_suggestion(notebooks: Path) -> None:
    with pytest.raises(LabkitError, match="did you mean 'gateway-api'"):
        plan_runs([LabInfo("01-routed", notebooks / "01-routed.ipynb", 1)], {}, "gateway_api")


def test_the_cli_refuses_an_unknown_api_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--api", "gatewayapi"])
    assert "invalid choice: 'gatewayapi'" in capsys.readouterr().err


def test_the_cli_names_both_options_when_they_clash(
    notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--backend", "sim", "--api", "istio", "-p", "api=gateway-api", "--notebooks", str(notebooks)]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "-p api=gateway-api" in err and "--api istio" in err
    assert not (tmp_path / "out").exists()  # refused before anything was created


def test_both_end_to_end(notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["run", "--backend", "sim", "--api", "both", "-q", "--notebooks", str(notebooks), "--out", str(out)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "01-routed [istio]" in table and "01-routed [gateway-api]" in table
    # The lab without the parameter runs as it is, and the run says so instead of passing over --api.
    assert "--api both: 02-plain has no api parameter; it runs once, as it is" in captured.err
    # Separate executed notebooks, each with its own value injected after the parameters cell.
    for api in ("istio", "gateway-api"):
        nb = json.loads((out / f"01-routed.{api}.ipynb").read_text())
        assert nb["metadata"]["papermill"]["parameters"] == {"api": api, "backend": "sim"}
        printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
        assert f"ran with api={api}" in printed
        assert (out / f"01-routed.{api}.html").is_file()
    plain = json.loads((out / "02-plain.ipynb").read_text())
    assert plain["metadata"]["papermill"]["parameters"] == {"backend": "sim"}
    # JUnit: one suite per execution, named with its API; each with its own check record.
    root = ET.parse(out / "junit.xml").getroot()
    suites = {s.get("name"): [c.get("name") for c in s.findall("testcase")] for s in root}
    assert suites["01-routed [istio]"] == ["ran with api=istio"]
    assert suites["01-routed [gateway-api]"] == ["ran with api=gateway-api"]
    assert suites["02-plain"] == ["ran with api=none"]
    summary = (out / "summary.md").read_text()
    assert "| `01-routed [istio]` | ✅ passed |" in summary and "| `01-routed [gateway-api]` | ✅ passed |" in summary
