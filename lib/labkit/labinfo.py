"""The catalogue of labs: each lab is a notebook (``notebooks/NN-name.ipynb``) plus its data
(``labs/NN-name/``: ``lab.yaml`` and the manifests it applies).

``lab.yaml`` says, in machine-readable form, what the lab is and does: title, time, prerequisites,
the external hosts it needs, the kinds it creates, the labels it puts on namespaces it does not own,
and its parameters. The runner, ``labkit list``, the banner of ``labkit.connect``, the guard and
``labkit reset`` (``snapshot``) and the README tables (``scripts/update-lab-tables.py``) all read it
from here, so adding a lab needs no library change.

Example::

    title: Accessing external services
    minutes: 20
    depends_on: []
    summary: how sidecars treat unknown hosts ...
    requires: []                       # optional: what must already be in the cluster
    changes:
      - sets meshConfig.outboundTrafficPolicy.mode to REGISTRY_ONLY (restored at the end)
    namespace_labels:                  # optional: labels it puts on namespaces it does not create
      ${istio_namespace}: {istio: system}
    hosts: [httpbin.org]               # the external hosts it reaches (labs/common/world.yaml has them)
    kinds:                             # every kind it creates: the guard and reset search these
      - {apiVersion: networking.istio.io/v1, kind: ServiceEntry}
    parameters:                        # the notebook's parameters cell, name by name, with its defaults
      - {name: backend, default: auto, meaning: where the lab runs}

``${istio_namespace}`` in ``changes``, ``requires`` and ``namespace_labels`` is replaced by the namespace the
lab connects to. ``labkit reset`` removes the ``namespace_labels`` of every lab (with exactly those values).

Where labs live: ``paths.labs_dir()`` and ``paths.notebooks_dir()`` (``LABKIT_LABS_DIR`` and
``LABKIT_NOTEBOOKS_DIR`` move them, for a lab kept outside the project).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .errors import LabkitError

FILENAME = "lab.yaml"
#: Lab directories are ``NN-name``; ``labs/common`` holds shared manifests and is not a lab.
LAB_DIR = re.compile(r"^(\d{2})-[a-z0-9-]+$")
#: Lab notebooks are ``NN-name.ipynb``; anything else in the notebooks directory is not a lab.
LAB_PATTERN = re.compile(r"^(\d+)-[\w.-]+\.ipynb$")
_FIELDS: dict[str, type] = {
    "title": str, "minutes": int, "summary": str, "depends_on": list, "changes": list, "requires": list,
    "namespace_labels": dict, "hosts": list, "kinds": list, "parameters": list,
}  # fmt: skip
#: Lists whose items are mappings (the others are lists of strings).
_RECORD_LISTS = {"kinds": ("apiVersion", "kind"), "parameters": ("name", "default", "meaning")}
#: How ``namespace_labels`` names the Istio namespace, whatever it is called on the cluster.
ISTIO_NAMESPACE = "${istio_namespace}"
_REQUIRED = ("title", "minutes", "summary", "changes")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_API_VERSION = re.compile(r"^([a-z0-9.-]+/)?v\d+((alpha|beta)\d+)?$")


class LabInfoError(LabkitError):
    """A lab.yaml is missing, unreadable or has wrong fields."""

    hint = "fix labs/<lab>/lab.yaml; the fields are described in lib/labkit/labinfo.py"


@dataclass(frozen=True)
class Parameter:
    """One name of a notebook's parameters cell: ``labkit run -p name=value`` overrides the default."""

    name: str
    default: Any
    meaning: str


@dataclass(frozen=True)
class LabMeta:
    name: str  # the directory and notebook stem, e.g. "01-external-access"
    title: str
    minutes: int
    summary: str
    changes: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    #: namespace (or ``${istio_namespace}``) -> labels the lab sets on it, restored at its end
    namespace_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    #: external hosts the lab reaches (the simulator's world has each of them)
    hosts: tuple[str, ...] = ()
    #: (apiVersion, kind) of everything the lab creates
    kinds: tuple[tuple[str, str], ...] = ()
    parameters: tuple[Parameter, ...] = ()

    @property
    def number(self) -> str:
        return self.name[:2]

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    def changes_in(self, istio_namespace: str = "istio-system") -> list[str]:
        return [_fill(c, istio_namespace) for c in self.changes]

    def requires_in(self, istio_namespace: str = "istio-system") -> list[str]:
        return [_fill(r, istio_namespace) for r in self.requires]

    def labels_in(self, istio_namespace: str = "istio-system") -> dict[str, dict[str, str]]:
        """``namespace_labels`` with the Istio namespace named."""
        return {_fill(ns, istio_namespace): dict(labels) for ns, labels in self.namespace_labels}


def _fill(text: str, istio_namespace: str) -> str:
    return text.replace(ISTIO_NAMESPACE, istio_namespace)


@dataclass(frozen=True)
class LabInfo:
    """One lab in the catalogue: its notebook on disk and, when it has one, its ``lab.yaml``."""

    name: str  # the file stem, e.g. "01-external-access"
    path: Path  # the notebook
    number: int
    #: where its ``lab.yaml`` and manifests are looked up; None: ``paths.labs_dir()`` at the time of asking
    labs_dir: Path | None = field(default=None, compare=False, repr=False)

    @property
    def data_dir(self) -> Path:
        """``labs/<lab>/``: its ``lab.yaml`` and the manifests it applies."""
        return (self.labs_dir or paths.labs_dir()) / self.name

    @cached_property
    def meta(self) -> LabMeta | None:
        """Its ``lab.yaml``; None when it has none (a scratch notebook). A broken one raises."""
        if not (self.data_dir / FILENAME).is_file():
            return None
        return load(self.name, self.data_dir.parent)

    @property
    def title(self) -> str:
        """The first markdown heading of the notebook, else the lab.yaml title, else its name."""
        if heading := notebook_title(self.path):
            return heading
        meta = self.meta
        return meta.title if meta is not None else self.name


def problems(data: Any, name: str, known_labs: set[str] | None = None) -> list[str]:
    """What is wrong with one parsed lab.yaml; empty when it is valid."""
    if not isinstance(data, dict):
        return [f"{name}/{FILENAME}: expected a mapping, got {type(data).__name__}"]
    out = [f"{name}/{FILENAME}: missing field {key!r}" for key in _REQUIRED if key not in data]
    out += [f"{name}/{FILENAME}: unknown field {key!r}" for key in data if key not in _FIELDS]
    for key, kind in _FIELDS.items():
        value: Any = data.get(key)
        if kind is list and isinstance(value, list):
            out += _list_problems(key, value, f"{name}/{FILENAME}")
            continue
        if value is None:
            continue
        # bool is an int in Python; "minutes: yes" must not pass as 1.
        if not isinstance(value, kind) or isinstance(value, bool):
            out.append(f"{name}/{FILENAME}: {key} must be a {kind.__name__}")
        elif isinstance(value, str) and not value.strip():
            out.append(f"{name}/{FILENAME}: {key} is empty")
    if isinstance(data.get("minutes"), int) and not isinstance(data["minutes"], bool) and data["minutes"] <= 0:
        out.append(f"{name}/{FILENAME}: minutes must be positive")
    if isinstance(data.get("changes"), list) and not data["changes"]:
        out.append(f"{name}/{FILENAME}: changes is empty; say what the lab does to the cluster")
    for ns, labels in (
        (data.get("namespace_labels") or {}).items() if isinstance(data.get("namespace_labels"), dict) else ()
    ):
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            out.append(f"{name}/{FILENAME}: namespace_labels.{ns} must map label names to string values")
    for dep in data.get("depends_on") or []:
        if not isinstance(dep, str):
            continue
        if known_labs is not None and dep not in known_labs:
            out.append(f"{name}/{FILENAME}: depends_on names {dep!r}, which is not a lab")
        elif dep >= name:  # labs run in number order: a dependency must come first (no cycles)
            out.append(f"{name}/{FILENAME}: depends_on {dep!r} does not come before {name}")
    return out


def _list_problems(key: str, value: list[Any], where: str) -> list[str]:
    """A list field: strings, or (kinds, parameters) mappings with exactly their keys."""
    keys = _RECORD_LISTS.get(key)
    if keys is None:
        if not all(isinstance(v, str) and v.strip() for v in value):
            return [f"{where}: {key} must be a list of non-empty strings"]
        if key == "hosts":
            return [f"{where}: hosts: {v!r} is not a host name" for v in value if not _HOST.match(v)]
        return []
    out = []
    seen: set[Any] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != set(keys):
            out.append(f"{where}: {key}[{i}] must have exactly the keys {', '.join(keys)}")
            continue
        if key == "kinds":
            api_version, kind = item["apiVersion"], item["kind"]
            if not (isinstance(api_version, str) and _API_VERSION.match(api_version)):
                out.append(f"{where}: kinds[{i}].apiVersion {api_version!r} is not an apiVersion (group/version)")
            if not (isinstance(kind, str) and re.fullmatch(r"[A-Z][A-Za-z0-9]*", kind)):
                out.append(f"{where}: kinds[{i}].kind {kind!r} is not a kind name")
            ident: Any = (api_version, kind)
        else:
            if not (isinstance(item["name"], str) and item["name"].isidentifier()):
                out.append(f"{where}: parameters[{i}].name {item['name']!r} is not a Python name")
            if not (isinstance(item["meaning"], str) and item["meaning"].strip()):
                out.append(f"{where}: parameters[{i}].meaning must say what {item['name']!r} is for")
            ident = item["name"]
        if _hashable(ident) in seen:
            out.append(f"{where}: {key}[{i}] repeats {ident!r}")
        seen.add(_hashable(ident))
    return out


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str)


def lab_dirs(labs_dir: Path | None = None) -> list[Path]:
    labs_dir = labs_dir or paths.labs_dir()
    return sorted(p for p in labs_dir.iterdir() if p.is_dir() and LAB_DIR.match(p.name))


def load(name: str, labs_dir: Path | None = None) -> LabMeta:
    """The metadata of one lab; raises LabInfoError when its lab.yaml is missing or invalid."""
    labs_dir = labs_dir or paths.labs_dir()
    path = labs_dir / name / FILENAME
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabInfoError(f"no metadata for lab {name}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise LabInfoError(f"{path} is not valid YAML: {exc}") from exc
    known = {p.name for p in lab_dirs(labs_dir)}
    found = problems(data, name, known)
    if found:
        raise LabInfoError("invalid lab metadata:\n  " + "\n  ".join(found))
    return LabMeta(
        name=name,
        title=data["title"].strip(),
        minutes=data["minutes"],
        summary=data["summary"].strip(),
        changes=tuple(c.strip() for c in data["changes"]),
        depends_on=tuple(data.get("depends_on") or ()),
        requires=tuple(r.strip() for r in data.get("requires") or ()),
        namespace_labels=tuple(
            (ns, tuple(sorted((str(k), str(v)) for k, v in labels.items())))
            for ns, labels in sorted((data.get("namespace_labels") or {}).items())
        ),
        hosts=tuple(data.get("hosts") or ()),
        kinds=tuple((k["apiVersion"], k["kind"]) for k in data.get("kinds") or ()),
        parameters=tuple(
            Parameter(p["name"], p["default"], p["meaning"].strip()) for p in data.get("parameters") or ()
        ),
    )


def find(lab: str, labs_dir: Path | None = None) -> LabMeta | None:
    """The metadata for a lab name as notebooks pass it (``"01-external-access"`` or ``"01"``), or None.

    None means "no such lab" (an ad-hoc ``connect(lab="scratch")``); a lab that exists but whose
    lab.yaml is broken still raises, so the mistake is not hidden behind a banner without changes.
    """
    labs_dir = labs_dir or paths.labs_dir()
    if not labs_dir.is_dir():
        return None
    matches = [p.name for p in lab_dirs(labs_dir) if p.name == lab or p.name[:2] == lab]
    if len(matches) != 1:
        return None
    return load(matches[0], labs_dir)


def all_labs(labs_dir: Path | None = None) -> list[LabMeta]:
    """The lab.yaml of every lab under ``labs_dir`` (default: ``paths.labs_dir()``)."""
    labs_dir = labs_dir or paths.labs_dir()
    if not labs_dir.is_dir():
        return []
    return [load(p.name, labs_dir) for p in lab_dirs(labs_dir)]


def catalogue(notebooks_dir: Path | None = None, labs_dir: Path | None = None) -> list[LabInfo]:
    """Every lab notebook in ``notebooks_dir`` (default: ``paths.notebooks_dir()``), in order, each
    with its ``lab.yaml`` from ``labs_dir`` (default: ``paths.labs_dir()``) when it has one."""
    directory = Path(notebooks_dir or paths.notebooks_dir())
    if not directory.is_dir():
        return []
    labs = []
    for path in directory.iterdir():
        m = LAB_PATTERN.match(path.name)
        if m and path.is_file():
            labs.append(LabInfo(name=path.stem, path=path.resolve(), number=int(m.group(1)), labs_dir=labs_dir))
    return sorted(labs, key=lambda lab: (lab.number, lab.name))


def notebook_title(path: Path) -> str:
    """The text of the first markdown heading in a notebook, or ''."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        lines = source.splitlines() if isinstance(source, str) else "".join(source).splitlines()
        for line in lines:
            if line.lstrip().startswith("#"):
                return line.strip().lstrip("#").strip()
    return ""


def notebook_defaults(path: Path) -> dict[str, Any]:
    """The names the notebook's ``parameters`` cell assigns, with their literal default values."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabInfoError(f"cannot read notebook {path}: {exc}") from exc
    for cell in nb.get("cells", []):
        if "parameters" not in (cell.get("metadata") or {}).get("tags", []):
            continue
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        out: dict[str, Any] = {}
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                out[node.targets[0].id] = ast.literal_eval(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                out[node.target.id] = ast.literal_eval(node.value)
        return out
    return {}


def parameter_differences(meta: LabMeta, notebook: Path) -> list[str]:
    """Where ``lab.yaml``'s ``parameters`` and the notebook's parameters cell disagree (names, order, defaults)."""
    cell = notebook_defaults(notebook)
    declared = {p.name: p.default for p in meta.parameters}
    out = [f"{meta.name}: parameter {n!r} is in the notebook but not in lab.yaml" for n in cell if n not in declared]
    out += [f"{meta.name}: parameter {n!r} is in lab.yaml but not in the notebook" for n in declared if n not in cell]
    out += [
        f"{meta.name}: parameter {n!r} defaults to {cell[n]!r} in the notebook but {declared[n]!r} in lab.yaml"
        for n in cell
        if n in declared and cell[n] != declared[n]
    ]
    if not out and list(cell) != list(declared):
        out.append(f"{meta.name}: lab.yaml lists the parameters in another order than the notebook")
    return out


def index_row(meta: LabMeta) -> list[str]:
    """One row of the lab table in notebooks/README.md: #, notebook link, summary, time, needs."""
    needs = ", ".join(d[:2] for d in meta.depends_on) or "—"
    link = f"[{meta.notebook}]({meta.notebook})"
    return [meta.number, link, meta.summary, f"{meta.minutes} min", needs]
