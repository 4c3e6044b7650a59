"""Per-lab metadata from ``labs/<lab>/lab.yaml``: title, time, prerequisites, and what the lab changes.

``labkit.connect`` shows it in the banner, so a learner sees what a lab will do to the cluster before
the first change is made. ``notebooks/README.md`` lists the same facts; a test keeps the two in step.

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

``${istio_namespace}`` in ``changes``, ``requires`` and ``namespace_labels`` is replaced by the namespace the
lab connects to. ``labkit reset`` removes the ``namespace_labels`` of every lab (with exactly those values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .errors import LabkitError

FILENAME = "lab.yaml"
#: Lab directories are ``NN-name``; ``labs/common`` holds shared manifests and is not a lab.
LAB_DIR = re.compile(r"^(\d{2})-[a-z0-9-]+$")
_FIELDS: dict[str, type] = {
    "title": str, "minutes": int, "summary": str, "depends_on": list, "changes": list, "requires": list,
    "namespace_labels": dict,
}  # fmt: skip
#: How ``namespace_labels`` names the Istio namespace, whatever it is called on the cluster.
ISTIO_NAMESPACE = "${istio_namespace}"
_REQUIRED = ("title", "minutes", "summary", "changes")


class LabInfoError(LabkitError):
    """A lab.yaml is missing, unreadable or has wrong fields."""

    hint = "fix labs/<lab>/lab.yaml; the fields are described in lib/labkit/labinfo.py"


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


def _fill(text: str, istio_namespace: str) -> str:
    return text.replace("${istio_namespace}", istio_namespace)


def problems(data: Any, name: str, known_labs: set[str] | None = None) -> list[str]:
    """What is wrong with one parsed lab.yaml; empty when it is valid."""
    if not isinstance(data, dict):
        return [f"{name}/{FILENAME}: expected a mapping, got {type(data).__name__}"]
    out = [f"{name}/{FILENAME}: missing field {key!r}" for key in _REQUIRED if key not in data]
    out += [f"{name}/{FILENAME}: unknown field {key!r}" for key in data if key not in _FIELDS]
    for key, kind in _FIELDS.items():
        value: Any = data.get(key)
        if kind is list and isinstance(value, list):
            if not all(isinstance(v, str) and v.strip() for v in value):
                out.append(f"{name}/{FILENAME}: {key} must be a list of non-empty strings")
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


def lab_dirs(labs_dir: Path = paths.LABS) -> list[Path]:
    return sorted(p for p in labs_dir.iterdir() if p.is_dir() and LAB_DIR.match(p.name))


def load(name: str, labs_dir: Path = paths.LABS) -> LabMeta:
    """The metadata of one lab; raises LabInfoError when its lab.yaml is missing or invalid."""
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
    )


def find(lab: str, labs_dir: Path = paths.LABS) -> LabMeta | None:
    """The metadata for a lab name as notebooks pass it (``"01-external-access"`` or ``"01"``), or None.

    None means "no such lab" (an ad-hoc ``connect(lab="scratch")``); a lab that exists but whose
    lab.yaml is broken still raises, so the mistake is not hidden behind a banner without changes.
    """
    if not labs_dir.is_dir():
        return None
    matches = [p.name for p in lab_dirs(labs_dir) if p.name == lab or p.name[:2] == lab]
    if len(matches) != 1:
        return None
    return load(matches[0], labs_dir)


def all_labs(labs_dir: Path = paths.LABS) -> list[LabMeta]:
    return [load(p.name, labs_dir) for p in lab_dirs(labs_dir)]


def index_row(meta: LabMeta) -> list[str]:
    """One row of the lab table in notebooks/README.md: #, notebook link, summary, time, needs."""
    needs = ", ".join(d[:2] for d in meta.depends_on) or "—"
    link = f"[{meta.notebook}]({meta.notebook})"
    return [meta.number, link, meta.summary, f"{meta.minutes} min", needs]
