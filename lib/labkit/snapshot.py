"""Runs that leave no trace: what a lab may change in a cluster, captured before it and put back after.

A lab changes three kinds of things outside its own objects' spec: the mesh config (``data.mesh`` of
the ``istio`` ConfigMap), labels on shared namespaces (the Istio namespace, ``kube-system``,
``default``), and objects it creates, which all carry labkit's labels (``manifests.prepare``). A
``Snapshot`` records those three; ``Guard`` takes one before a notebook, and afterwards reports what
the notebook left behind, deletes labkit's objects by label, restores the snapshot and checks that
it held. ``reset`` does the same on demand, towards the state the labs start from.

What to search and undo comes from the labs' ``lab.yaml`` (``labinfo``): the kinds they create
(``kinds``) and the labels they put on namespaces (``namespace_labels``); no lab is named here.

Everything goes through the ``Backend`` protocol (list/get/patch/delete), so the same code runs on a
real cluster and on the simulator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import labinfo
from .backend import Backend
from .manifests import LAB_LABEL, MANAGED_BY, MANAGED_BY_VALUE, Ref
from .meshconfig import (
    DEFAULT_OUTBOUND_POLICY,
    MESH_CONFIGMAP,
    MESH_KEY,
    MeshConfigError,
    mesh_text,
    outbound_policy,
    parse_mesh,
)

#: The label selector that finds everything labkit created, even after the kernel that made it died.
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"

#: Cleanup deletes routing config first (so no proxy keeps routing to a workload that is going away),
#: then policies, workloads, their inputs, and namespaces last (their deletion takes longest and
#: removes whatever is still inside). Kinds are ranked by API group; these known ones keep this order
#: inside their rank, others follow alphabetically.
_KNOWN_ORDER = (
    "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar", "NetworkPolicy",
    "Deployment", "Pod", "Service", "Endpoints", "ServiceAccount", "ConfigMap", "Secret",
)  # fmt: skip
_WORKLOAD_GROUPS = ("apps", "batch")
_WORKLOAD_KINDS = ("Pod", "ReplicationController")
NAMESPACE_KIND = ("v1", "Namespace")


def cleanup_order(kind: tuple[str, str]) -> tuple[int, int, str]:
    """Sort key for deleting ``(apiVersion, kind)``: see ``_KNOWN_ORDER``."""
    api_version, name = kind
    group = _group(api_version)
    if (group, name) == ("", "Namespace"):
        rank = 9
    elif group.endswith("istio.io") or group == "gateway.networking.k8s.io":
        rank = 0
    elif group == "networking.k8s.io":
        rank = 1
    elif group in _WORKLOAD_GROUPS or (group == "" and name in _WORKLOAD_KINDS):
        rank = 2
    else:
        rank = 3
    known = _KNOWN_ORDER.index(name) if name in _KNOWN_ORDER else len(_KNOWN_ORDER)
    return rank, known, f"{name} {api_version}"


def labelled_kinds(labs_dir: Path | None = None) -> tuple[tuple[str, str], ...]:
    """The kinds labs create, as their lab.yaml ``kinds`` say, in cleanup order (Namespace always last)."""
    kinds = {NAMESPACE_KIND}
    for meta in labinfo.all_labs(labs_dir):
        kinds.update(meta.kinds)
    return tuple(sorted(kinds, key=cleanup_order))


def __getattr__(name: str) -> Any:
    # ``LABELLED_KINDS`` reads the labs when asked, so a lab added (or a labs root moved) counts at once.
    if name == "LABELLED_KINDS":
        return labelled_kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Namespaces whose labels are compared before and after a lab (besides the Istio namespace, which
#: depends on the backend, and those the labs' lab.yaml ``namespace_labels`` name).
SHARED_NAMESPACES = ("kube-system", "default")

#: How lab.yaml's ``namespace_labels`` names the Istio namespace.
ISTIO_NAMESPACE = labinfo.ISTIO_NAMESPACE


def lab_namespace_labels() -> dict[str, dict[str, str]]:
    """Labels labs put on namespaces they don't create (for a NetworkPolicy to select them, say), from
    every lab's lab.yaml ``namespace_labels``. ``reset`` removes them (only with exactly these values) because,
    without a snapshot, it cannot know they were there before."""
    out: dict[str, dict[str, str]] = {}
    for meta in labinfo.all_labs():
        for ns, labels in meta.namespace_labels:
            out.setdefault(ns, {}).update(dict(labels))
    return out

#: Seconds cleanup waits for deleted objects (namespaces above all) to disappear.
DELETE_TIMEOUT = 180.0

ListObjects = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class Managed:
    """An object carrying labkit's label."""

    ref: Ref
    lab: str = ""  # the lab that applied it (labkit.io/lab), when the label says
    terminating: bool = False  # deletion has started; a namespace can take a while

    def __str__(self) -> str:
        notes = ([f"from lab {self.lab}"] if self.lab else []) + (["terminating"] if self.terminating else [])
        return f"{self.ref} ({', '.join(notes)})" if notes else str(self.ref)


@dataclass(frozen=True)
class Snapshot:
    """What labs may change, as it was at one moment."""

    mesh: str | None  # the ConfigMap's ``mesh`` text; None when there is no ``istio`` ConfigMap
    labels: dict[str, dict[str, str] | None]  # namespace -> its labels; None when it does not exist
    managed: tuple[Managed, ...] = ()
    configmap: Ref = field(default_factory=lambda: Ref("v1", "ConfigMap", "istio-system", MESH_CONFIGMAP))

    def managed_refs(self) -> set[Ref]:
        return {m.ref for m in self.managed}


def watched_namespaces(backend: Backend) -> tuple[str, ...]:
    """The Istio namespace, ``SHARED_NAMESPACES`` and every namespace a lab.yaml says it labels."""
    labelled = [ns for ns in lab_namespace_labels() if ns != ISTIO_NAMESPACE]
    return tuple(dict.fromkeys([backend.istio_namespace, *SHARED_NAMESPACES, *labelled]))


#: Kinds that controllers derive from a labelled object and copy its labels to (a Service's Endpoints and
#: EndpointSlices): they go when their source goes, so discovery does not add them to the search.
DERIVED_KINDS = frozenset({("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice")})


def search_kinds(backend: Backend, applied: Iterable[tuple[str, str]] = ()) -> tuple[tuple[str, str], ...]:
    """The kinds to search for labkit's objects, in cleanup order (``cleanup_order``).

    ``labelled_kinds()`` are what the labs' lab.yaml say they create; a notebook may apply anything
    else too, so the search adds the kinds it applied (``applied``) and, when the backend can list
    what its API serves (``served_kinds``, API discovery on a real cluster), every listable kind.
    """
    served = getattr(backend, "served_kinds", None)
    discovered = [
        (av, kind) for av, kind in (served() if served is not None else []) if (_group(av), kind) not in DERIVED_KINDS
    ]
    seen: set[tuple[str, str]] = set()
    kinds = []
    for api_version, kind in [*labelled_kinds(), *applied, *discovered]:
        if api_version and kind and (_group(api_version), kind) not in seen:
            seen.add((_group(api_version), kind))
            kinds.append((api_version, kind))
    return tuple(sorted(kinds, key=cleanup_order))


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def find_managed(list_objects: ListObjects, kinds: Iterable[tuple[str, str]] | None = None) -> list[Managed]:
    """Every object with labkit's label, across ``kinds`` (default: ``labelled_kinds()``) and all namespaces.

    ``list_objects(api_version, kind, namespace, selector)`` is ``Backend.list``; a kind the cluster
    does not serve lists as empty (Istio's CRDs may be missing), which is what both backends do.
    """
    found: list[Managed] = []
    for api_version, kind in labelled_kinds() if kinds is None else kinds:
        for obj in list_objects(api_version, kind, None, MANAGED_SELECTOR):
            meta = obj.get("metadata") or {}
            if meta.get("ownerReferences"):
                continue  # made by a controller from a labelled owner; it goes when the owner goes
            ref = Ref(api_version, kind, meta.get("namespace"), meta.get("name", ""))
            lab = (meta.get("labels") or {}).get(LAB_LABEL, "")
            found.append(Managed(ref, lab, bool(meta.get("deletionTimestamp"))))
    return found


def take(backend: Backend, *, objects: bool = True, applied: Iterable[tuple[str, str]] = ()) -> Snapshot:
    """The mesh config, the watched namespaces' labels and (with ``objects``) labkit's objects, now
    (searched in every kind ``search_kinds`` names)."""
    ref = Ref("v1", "ConfigMap", backend.istio_namespace, MESH_CONFIGMAP)
    cm = backend.get(ref)
    mesh = None if cm is None else mesh_text(cm)
    labels: dict[str, dict[str, str] | None] = {}
    for ns in watched_namespaces(backend):
        obj = backend.get(Ref("v1", "Namespace", None, ns))
        labels[ns] = None if obj is None else dict((obj.get("metadata") or {}).get("labels") or {})
    managed = tuple(find_managed(backend.list_objects, search_kinds(backend, applied))) if objects else ()
    return Snapshot(mesh=mesh, labels=labels, managed=managed, configmap=ref)


# -- comparing ---------------------------------------------------------------------------------------


def _parse_mesh(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return parse_mesh(text)
    except MeshConfigError:  # still compared: a change to unparsable text is a change
        return {"<unparsable mesh config>": text}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay whole (they are replaced, never merged)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value} if prefix else {}


def mesh_differences(expected: str | None, actual: str | None) -> list[str]:
    """What differs between two mesh configs, one line per setting (formatting differences ignored)."""
    want, got = _parse_mesh(expected), _parse_mesh(actual)
    if want == got:
        return []
    if got is None:
        return [f"the {MESH_CONFIGMAP} ConfigMap is gone"]
    if want is None:
        return [f"an {MESH_CONFIGMAP} ConfigMap appeared"]
    return _changes(
        _flatten(want),
        _flatten(got),
        removed=lambda key, before: f"mesh config: {key} was removed (was {before!s})",
        added=lambda key, after: f"mesh config: {key} is {after!s} (was unset)",
        changed=lambda key, before, after: f"mesh config: {key} is {after!s} (was {before!s})",
    )


def _changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    removed: Callable[[str, Any], str],
    added: Callable[[str, Any], str],
    changed: Callable[[str, Any, Any], str],
) -> list[str]:
    """One line per key that differs between two flat mappings, in key order."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(removed(key, before[key]))
        elif key not in before:
            lines.append(added(key, after[key]))
        elif before[key] != after[key]:
            lines.append(changed(key, before[key], after[key]))
    return lines


def label_differences(
    namespace: str, expected: Mapping[str, str] | None, actual: Mapping[str, str] | None
) -> list[str]:
    if expected is None:
        return []  # the namespace was not there before: nothing of ours to compare
    if actual is None:
        return [f"namespace {namespace} is gone"]
    return _changes(
        expected,
        actual,
        removed=lambda key, before: f"namespace {namespace}: label {key}={before} was removed",
        added=lambda key, after: f"namespace {namespace}: label {key}={after} was added",
        changed=lambda key, before, after: f"namespace {namespace}: label {key} is {after} (was {before})",
    )


def differences(expected: Snapshot, actual: Snapshot, *, allowed: Iterable[Ref] = ()) -> list[str]:
    """How ``actual`` departs from ``expected``, one line each. Every object with labkit's label in
    ``actual`` counts, unless ``allowed`` lists it."""
    allowed = set(allowed)
    lines = [f"{m} is still there" for m in actual.managed if m.ref not in allowed]
    lines += mesh_differences(expected.mesh, actual.mesh)
    for ns, labels in expected.labels.items():
        lines += label_differences(ns, labels, actual.labels.get(ns))
    return lines


def left_behind(before: Snapshot, after: Snapshot) -> list[str]:
    """What a notebook left: new labkit objects and changed settings. Objects already being deleted
    don't count: a lab that deleted its namespace did its part while Kubernetes finalises it."""
    going = {m.ref for m in after.managed if m.terminating}
    return differences(before, after, allowed=before.managed_refs() | going)


# -- undoing -----------------------------------------------------------------------------------------


def clean_up(
    backend: Backend,
    *,
    timeout: float | None = None,
    interval: float = 2.0,
    applied: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Delete every object with labkit's label, in ``search_kinds`` order; wait until they are gone.

    Returns a line per deletion. Objects still there after ``timeout`` are left for the caller's
    comparison to report.
    """
    done = []
    kinds = search_kinds(backend, applied)
    for managed in find_managed(backend.list_objects, kinds):
        if not managed.terminating and backend.delete(managed.ref):
            done.append(f"deleted {managed.ref}")
    deadline = backend.now() + (DELETE_TIMEOUT if timeout is None else timeout)
    while find_managed(backend.list_objects, kinds) and backend.now() < deadline:
        backend.sleep(interval)  # namespaces finalise asynchronously on a real cluster
    return done


def restore(backend: Backend, snapshot: Snapshot) -> list[str]:
    """Put the mesh config and the namespace labels back as ``snapshot`` has them (merge patches)."""
    done = []
    current = take(backend, objects=False)
    if snapshot.mesh is not None and current.mesh is not None and mesh_differences(snapshot.mesh, current.mesh):
        backend.patch(snapshot.configmap, {"data": {MESH_KEY: snapshot.mesh}})
        done.append(f"restored the mesh config in ConfigMap {snapshot.configmap.namespace}/{MESH_CONFIGMAP}")
    for ns, labels in snapshot.labels.items():
        now = current.labels.get(ns)
        if labels is None or now is None or labels == now:
            continue
        patch: dict[str, str | None] = {k: v for k, v in labels.items() if now.get(k) != v}
        patch.update({k: None for k in now if k not in labels})  # null removes a label (merge patch)
        backend.patch(Ref("v1", "Namespace", None, ns), {"metadata": {"labels": patch}})
        done.append(f"restored the labels of namespace {ns}")
    return done


# -- the runner's guard ------------------------------------------------------------------------------


@dataclass
class ClusterReport:
    """How one notebook left the cluster."""

    left_behind: list[str] = field(default_factory=list)  # what the notebook did not undo
    not_restored: list[str] = field(default_factory=list)  # what labkit could not undo either
    actions: list[str] = field(default_factory=list)  # what labkit did to undo it
    error: str = ""  # the snapshot or the cleanup itself failed

    @property
    def clean(self) -> bool:
        return not (self.left_behind or self.not_restored or self.error)

    @property
    def problems(self) -> list[str]:
        lines = [f"left behind: {line}" for line in self.left_behind]
        lines += [f"not restored: {line}" for line in self.not_restored]
        if self.error:
            lines.append(self.error)
        return lines


class Guard:
    """Snapshot before a notebook; after it, report, clean up by label, restore, and verify."""

    def __init__(self, backend: Backend, *, timeout: float | None = None) -> None:
        self.backend = backend
        self.timeout = timeout
        self.before: Snapshot | None = None
        self.error = ""

    def snapshot(self) -> None:
        try:
            self.before = take(self.backend)
        except Exception as exc:  # the notebook still runs and shows its own error; we report ours
            self.before, self.error = None, f"could not snapshot the cluster before the lab: {exc}"

    def settle(self, applied: Iterable[tuple[str, str]] = ()) -> ClusterReport:
        """``applied``: the (apiVersion, kind) pairs the notebook applied, searched besides the usual kinds."""
        if self.before is None:
            return ClusterReport(error=self.error or "no snapshot was taken before the lab")
        report = ClusterReport()
        applied = tuple(applied)
        try:
            report.left_behind = left_behind(self.before, take(self.backend, applied=applied))
            cleaned = clean_up(self.backend, timeout=self.timeout, applied=applied)
            report.actions = cleaned + restore(self.backend, self.before)
            report.not_restored = differences(self.before, take(self.backend, applied=applied))
        except Exception as exc:  # a dead API server must not hide which lab was running
            report.error = f"could not restore the cluster: {exc}"
        return report


# -- reset on demand ---------------------------------------------------------------------------------


def lab_start_state(snapshot: Snapshot, istio_namespace: str) -> Snapshot:
    """``snapshot`` as the labs expect to find it: no labkit objects, outbound policy ALLOW_ANY, and
    without the labels the labs' lab.yaml ``namespace_labels`` put on shared namespaces. Everything
    else is kept as it is."""
    mesh = snapshot.mesh
    parsed = _parse_mesh(mesh)
    if parsed is not None and outbound_policy(parsed) != DEFAULT_OUTBOUND_POLICY:
        parsed = copy.deepcopy(parsed)
        parsed["outboundTrafficPolicy"]["mode"] = DEFAULT_OUTBOUND_POLICY
        mesh = yaml.safe_dump(parsed, sort_keys=False)
    labels: dict[str, dict[str, str] | None] = {}
    for ns, current in snapshot.labels.items():
        if current is None:
            labels[ns] = None
            continue
        lab_labels = lab_namespace_labels().get(ISTIO_NAMESPACE if ns == istio_namespace else ns, {})
        labels[ns] = {k: v for k, v in current.items() if lab_labels.get(k) != v}
    return Snapshot(mesh=mesh, labels=labels, managed=(), configmap=snapshot.configmap)


@dataclass
class ResetReport:
    """What ``labkit reset`` found, did and could not undo (for a cluster, or the envoy backend's runs)."""

    found: list[str] = field(default_factory=list)  # what was not as the labs expect it
    actions: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # left alone on purpose (the envoy backend's live runs)
    remaining: list[str] = field(default_factory=list)  # still off after the reset

    @property
    def clean(self) -> bool:
        return not self.remaining

    def print_lines(self, console: Any) -> None:
        """One line per finding, action, object left alone and leftover, as ``labkit reset`` prints them."""
        for line in self.found:
            console.print(f"  found: {line}", style="yellow")
        for line in self.actions:
            console.print(f"  {line}", style="dim")
        for line in self.kept:
            console.print(f"  left alone: {line}", style="dim")
        for line in self.remaining:
            console.print(f"  still there: {line}", style="red")


def reset(backend: Backend, *, timeout: float | None = None) -> ResetReport:
    """Bring a cluster back to where the labs start: for a learner whose kernel died mid-lab."""
    if backend.simulated:
        return ResetReport(actions=["nothing to reset: the simulator starts fresh in every kernel"])
    now = take(backend)
    target = lab_start_state(now, backend.istio_namespace)
    report = ResetReport(found=differences(target, now))
    report.actions = clean_up(backend, timeout=timeout) + restore(backend, target)
    report.remaining = differences(target, take(backend))
    return report
