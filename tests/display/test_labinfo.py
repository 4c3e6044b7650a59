"""labs/<lab>/lab.yaml: one per notebook, valid, true to what the notebook does, and in step with the index."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from labkit import labinfo, paths
from labkit.lab import Lab

NOTEBOOKS = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
LABS = [p.name for p in labinfo.lab_dirs()]


def test_every_notebook_has_a_lab_yaml_and_every_lab_yaml_a_notebook() -> None:
    assert NOTEBOOKS, "no lab notebooks found"
    assert LABS == NOTEBOOKS
    assert all((paths.LABS / name / labinfo.FILENAME).is_file() for name in NOTEBOOKS)


@pytest.mark.parametrize("lab", NOTEBOOKS)
def test_lab_yaml_is_valid_and_its_title_is_the_notebooks(lab: str) -> None:
    meta = labinfo.load(lab)
    nb = nbformat.read(paths.NOTEBOOKS / f"{lab}.ipynb", as_version=4)
    heading = nb.cells[0].source.splitlines()[0]
    assert heading == f"# Lab {meta.number} — {meta.title}"
    assert meta.minutes > 0 and meta.changes


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"minutes": 5, "summary": "s", "changes": ["c"]}, "missing field 'title'"),
        ({"title": "t", "minutes": 5, "summary": "s", "changes": ["c"], "extra": 1}, "unknown field 'extra'"),
        ({"title": "t", "minutes": True, "summary": "s", "changes": ["c"]}, "minutes must be a int"),
        ({"title": "t", "minutes": 0, "summary": "s", "changes": ["c"]}, "minutes must be positive"),
        ({"title": "t", "minutes": 5, "summary": "s", "changes": []}, "changes is empty"),
        ({"title": "t", "minutes": 5, "summary": "s", "changes": [""]}, "list of non-empty strings"),
        ({"title": "t", "minutes": 5, "summary": "s", "changes": ["c"], "depends_on": ["09-x"]}, "not a lab"),
        ({"title": "t", "minutes": 5, "summary": "s", "changes": ["c"], "depends_on": ["03-c"]}, "not come before"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_invalid_metadata_is_reported(data: Any, problem: str) -> None:
    found = labinfo.problems(data, "02-b", known_labs={"01-a", "02-b", "03-c"})
    assert any(problem in p for p in found), found


def test_a_broken_lab_yaml_raises_with_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "01-a").mkdir()
    (tmp_path / "01-a" / "lab.yaml").write_text("title: t\nminutes: 5\nsummary: s\n")
    with pytest.raises(labinfo.LabInfoError, match=r"01-a/lab.yaml: missing field 'changes'"):
        labinfo.find("01-a", tmp_path)
    assert labinfo.find("scratch", tmp_path) is None  # not a lab: no metadata, no error


def test_find_accepts_the_number_and_fills_the_istio_namespace() -> None:
    meta = labinfo.find("04")
    assert meta is not None and meta.name == "04-network-policy"
    changes = " ".join(meta.changes_in("my-istio"))
    assert "my-istio" in changes and "${istio_namespace}" not in changes


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (paths.NOTEBOOKS / "README.md").read_text().splitlines():
        if re.match(r"^\| \d{2} \|", line):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def test_the_lab_index_in_notebooks_readme_matches_lab_yaml() -> None:
    rows = readme_rows()
    metas = labinfo.all_labs()
    assert sorted(rows) == [m.number for m in metas]
    for meta in metas:
        assert rows[meta.number] == labinfo.index_row(meta), f"notebooks/README.md row {meta.number}"


# -- the changes a lab declares are the changes it makes


def kind_words(kind: str) -> tuple[str, ...]:
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return (kind.lower(), plural.lower())


def run_on_the_simulator(lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute a notebook's code cells in this process on the simulator; record what they change."""
    calls: dict[str, Any] = {"policies": [], "labels": []}
    set_policy, label = Lab.set_outbound_policy, Lab.label_namespace

    def record_policy(self: Lab, mode: str) -> None:
        calls["policies"].append(mode)
        set_policy(self, mode)

    def record_labels(self: Lab, namespace: str, labels: Any) -> None:
        calls["labels"].append((namespace, dict(labels)))
        label(self, namespace, labels)

    monkeypatch.setattr(Lab, "set_outbound_policy", record_policy)
    monkeypatch.setattr(Lab, "label_namespace", record_labels)
    monkeypatch.setenv("LABKIT_RECORD_DIR", str(tmp_path))
    nb = nbformat.read(paths.NOTEBOOKS / f"{lab}.ipynb", as_version=4)
    namespace: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, f"{lab}.ipynb", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace["backend"] = "sim"
            if "pki_dir" in namespace:  # lab 05: keep generated keys out of the checkout
                namespace["pki_dir"] = str(tmp_path / "pki")
    docs = [d for d in yaml.safe_load_all((tmp_path / f"{lab}.applied.yaml").read_text()) if d]
    calls["objects"] = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs}
    return calls


@pytest.mark.parametrize("lab", NOTEBOOKS)
def test_lab_yaml_names_everything_the_lab_changes(lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = run_on_the_simulator(lab, tmp_path, monkeypatch)
    changes = [c.lower() for c in labinfo.load(lab).changes_in("istio-system")]
    assert made["objects"], "the lab applied nothing"
    for kind, name, namespace in sorted(made["objects"], key=str):
        # One line must name the object, its kind, and its namespace (the name itself for a Namespace).
        assert any(
            re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", line)
            and any(word in line for word in kind_words(kind))
            and (namespace is None or namespace in line)
            for line in changes
        ), f"{lab}/lab.yaml does not mention {kind} {name} in {namespace}"
    for mode in made["policies"]:
        if mode != "ALLOW_ANY":  # the lab's default; setting it back is part of the restore
            assert any(f"outboundtrafficpolicy.mode to {mode.lower()}" in line for line in changes)
    for namespace, labels in made["labels"]:
        line = next((c for c in changes if "label" in c and namespace in c), None)
        assert line is not None, f"{lab}/lab.yaml does not say it labels namespace {namespace}"
        assert all(f"{key}=" in line for key in labels), (line, labels)
