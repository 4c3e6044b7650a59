"""labs/<lab>/lab.yaml: one per notebook, valid, true to what the notebook does, and in step with the index."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    calls["kinds"] = {(d["apiVersion"], d["kind"]) for d in docs}
    return calls


@pytest.mark.parametrize("lab", NOTEBOOKS)
def test_lab_yaml_names_everything_the_lab_changes(lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = run_on_the_simulator(lab, tmp_path, monkeypatch)
    meta = labinfo.load(lab)
    changes = [c.lower() for c in meta.changes_in("istio-system")]
    assert made["objects"], "the lab applied nothing"
    # The guard and `labkit reset` search the kinds lab.yaml lists: every kind the lab applies is there.
    assert made["kinds"] <= set(meta.kinds), f"{lab}/lab.yaml kinds lacks {sorted(made['kinds'] - set(meta.kinds))}"
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


# -- hosts and parameters: lab.yaml agrees with the notebook and with the simulated world


@pytest.mark.parametrize("lab", NOTEBOOKS)
def test_lab_yaml_parameters_are_the_notebooks_parameters_cell(lab: str) -> None:
    meta = labinfo.load(lab)
    assert meta.parameters, f"{lab}/lab.yaml lists no parameters"
    assert labinfo.parameter_differences(meta, paths.NOTEBOOKS / f"{lab}.ipynb") == []


def _host_names(value: Any) -> set[str]:
    """Host names in a parameter default: bare names and the host of URLs, in strings, lists and dict keys."""
    if isinstance(value, dict):
        return set().union(*(_host_names(k) | _host_names(v) for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(_host_names(v) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    host = urlsplit(value).hostname if "://" in value else value
    return {host} if host and re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host) else set()


@pytest.mark.parametrize("lab", NOTEBOOKS)
def test_lab_yaml_hosts_are_in_the_world_and_name_every_external_host_the_notebook_uses(lab: str) -> None:
    from labkit.sim.world import World

    world = World.from_file(paths.world_file())
    meta = labinfo.load(lab)
    assert meta.hosts, f"{lab}/lab.yaml lists no external hosts"
    assert [h for h in meta.hosts if world.resolve(h) is None] == [], "hosts the simulated world does not have"
    used = set().union(*(_host_names(p.default) for p in meta.parameters))
    external = {h for h in used if world.resolve(h) is not None}
    assert external <= set(meta.hosts), f"{lab}/lab.yaml hosts lacks {sorted(external - set(meta.hosts))}"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("kinds", [{"apiVersion": "v1"}], "kinds[0] must have exactly the keys apiVersion, kind"),
        ("kinds", [{"apiVersion": "networking.istio.io", "kind": "Sidecar"}], "is not an apiVersion"),
        ("kinds", [{"apiVersion": "v1", "kind": "Pod"}, {"apiVersion": "v1", "kind": "Pod"}], "kinds[1] repeats"),
        ("hosts", ["http://httpbin.org"], "is not a host name"),
        ("parameters", [{"name": "x", "default": 1}], "must have exactly the keys name, default, meaning"),
        ("parameters", [{"name": "not a name", "default": 1, "meaning": "m"}], "is not a Python name"),
        ("parameters", [{"name": "x", "default": 1, "meaning": " "}], "must say what 'x' is for"),
    ],
)
def test_invalid_hosts_kinds_and_parameters_are_reported(field: str, value: Any, problem: str) -> None:
    data = {"title": "t", "minutes": 5, "summary": "s", "changes": ["c"], field: value}
    found = labinfo.problems(data, "02-b")
    assert any(problem in p for p in found), found


def test_a_parameter_the_notebook_and_lab_yaml_disagree_on_is_named(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = 'backend = "auto"\nhost = "a.example"\nextra = 1'
    nb.cells = [nbformat.v4.new_code_cell(cell, metadata={"tags": ["parameters"]})]
    nbformat.write(nb, tmp_path / "01-a.ipynb")
    meta = labinfo.LabMeta(
        name="01-a", title="t", minutes=1, summary="s", changes=("c",),
        parameters=(labinfo.Parameter("backend", "auto", "m"), labinfo.Parameter("host", "b.example", "m"),
                    labinfo.Parameter("gone", 1, "m")),
    )  # fmt: skip
    found = labinfo.parameter_differences(meta, tmp_path / "01-a.ipynb")
    assert any("'extra' is in the notebook but not in lab.yaml" in f for f in found), found
    assert any("'gone' is in lab.yaml but not in the notebook" in f for f in found), found
    assert any("'host' defaults to 'a.example' in the notebook but 'b.example'" in f for f in found), found
