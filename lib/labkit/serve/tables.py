"""``Table`` responses: the columns ``kubectl get`` prints, computed by the server as a real one does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import jsonpath
from .resources import Resource

Row = Callable[[dict[str, Any]], list[Any]]
TABLE_TYPE = "as=Table"


def wants_table(accept: str) -> bool:
    return TABLE_TYPE in accept.replace(" ", "")


def age(timestamp: str | None) -> str:
    """``kubectl``'s short durations: 45s, 5m, 3h, 2d."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<unknown>"
    seconds = int((datetime.now(timezone.utc) - then).total_seconds())
    if seconds < 0:
        return "<invalid>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _pod(p: dict[str, Any]) -> list[Any]:
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len((p.get("spec") or {}).get("containers") or [])
    status = p.get("status") or {}
    return [
        f"{ready}/{total}",
        status.get("phase", "Unknown"),
        sum(s.get("restartCount", 0) for s in statuses),
        status.get("podIP", "<none>"),
        (p.get("spec") or {}).get("nodeName", "<none>"),
    ]


def _deployment(d: dict[str, Any]) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    want = spec.get("replicas", 1)
    return [
        f"{status.get('readyReplicas', 0)}/{want}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
    ]


def _service(s: dict[str, Any]) -> list[Any]:
    spec = s.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    kind = spec.get("type", "ClusterIP")
    # kubectl's printer (printers.go getServiceExternalIP): an ExternalName Service shows its name there.
    external = spec.get("externalName", "<none>") if kind == "ExternalName" else ",".join(spec.get("externalIPs") or [])
    return [kind, spec.get("clusterIP") or "<none>", external or "<none>", ports]


def _endpoints(e: dict[str, Any]) -> list[Any]:
    """printers.go formatEndpoints: ip:port pairs, the first three, then how many more."""
    pairs = [
        f"{a.get('ip')}:{p.get('port')}" if subset.get("ports") else str(a.get("ip"))
        for subset in e.get("subsets") or []
        for a in subset.get("addresses") or []
        for p in (subset.get("ports") or [{}])
    ]
    shown = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [shown or "<none>"]


def _endpoint_slice(e: dict[str, Any]) -> list[Any]:
    """printers.go printEndpointSlice: address type, ports, the first three addresses."""
    ports = ",".join(str(p.get("port")) for p in e.get("ports") or []) or "<unset>"
    addresses = [a for ep in e.get("endpoints") or [] for a in ep.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [e.get("addressType", ""), ports, shown or "<unset>"]


def _role_binding(b: dict[str, Any]) -> list[Any]:
    """printers.go printRoleBinding: KIND/NAME of the role; -o wide adds the subjects by kind
    (rbac SubjectsStrings: a service account as namespace/name, or its name when it has no namespace)."""
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []

    def names(kind: str) -> str:
        found = [s for s in subjects if s.get("kind") == kind]
        if kind == "ServiceAccount":
            return ", ".join("/".join(filter(None, (s.get("namespace"), s.get("name")))) for s in found)
        return ", ".join(str(s.get("name", "")) for s in found)

    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", names("User"), names("Group"), names("ServiceAccount")]


def _admission_policy(p: dict[str, Any]) -> list[Any]:
    """printers.go printValidatingAdmissionPolicy: how many validations, the parameter kind or <unset>."""
    spec = p.get("spec") or {}
    kind = spec.get("paramKind")
    return [
        len(spec.get("validations") or []),
        f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}" if kind else "<unset>",
    ]


def _param_ref(b: dict[str, Any]) -> str:
    """printers.go printValidatingAdmissionPolicyBinding: the parameter object, or <unset>."""
    ref = (b.get("spec") or {}).get("paramRef")
    if not ref:
        return "<unset>"
    if ref.get("name"):
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    return "<unset>" if ref.get("selector") is None else str(ref.get("selector"))


def _hosts(o: dict[str, Any]) -> str:
    return str((o.get("spec") or {}).get("hosts") or [])


COLUMNS: dict[str, tuple[list[tuple[str, str, int]], Row]] = {
    "Pod": (
        [
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "integer", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
        ],
        _pod,
    ),
    "Deployment": ([("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0)], _deployment),
    "Service": (
        [("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0), ("Port(s)", "string", 0)],
        _service,
    ),
    "Endpoints": ([("Endpoints", "string", 0)], _endpoints),
    "EndpointSlice": (
        [("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0)],
        _endpoint_slice,
    ),
    "Namespace": ([("Status", "string", 0)], lambda n: [(n.get("status") or {}).get("phase", "Active")]),
    "ConfigMap": ([("Data", "integer", 0)], lambda c: [len(c.get("data") or {}) + len(c.get("binaryData") or {})]),
    "Secret": (
        [("Type", "string", 0), ("Data", "integer", 0)],
        lambda s: [s.get("type", "Opaque"), len(s.get("data") or {}) + len(s.get("stringData") or {})],
    ),
    "ServiceEntry": (
        [("Hosts", "string", 0), ("Location", "string", 0), ("Resolution", "string", 0)],
        lambda o: [_hosts(o), (o.get("spec") or {}).get("location", ""), (o.get("spec") or {}).get("resolution", "")],
    ),
    "VirtualService": (
        [("Gateways", "string", 0), ("Hosts", "string", 0)],
        lambda o: [str((o.get("spec") or {}).get("gateways") or []), _hosts(o)],
    ),
    "DestinationRule": ([("Host", "string", 0)], lambda o: [(o.get("spec") or {}).get("host", "")]),
    "RoleBinding": (
        [("Role", "string", 0), ("Users", "string", 1), ("Groups", "string", 1), ("ServiceAccounts", "string", 1)],
        _role_binding,
    ),
    "ClusterRoleBinding": (
        [("Role", "string", 0), ("Users", "string", 1), ("Groups", "string", 1), ("ServiceAccounts", "string", 1)],
        _role_binding,
    ),
    "ValidatingAdmissionPolicy": ([("Validations", "integer", 0), ("ParamKind", "string", 0)], _admission_policy),
    "ValidatingAdmissionPolicyBinding": (
        [("PolicyName", "string", 0), ("ParamRef", "string", 0)],
        lambda b: [(b.get("spec") or {}).get("policyName", ""), _param_ref(b)],
    ),
}
#: Kinds the API server prints with its default table: NAME and CREATED AT, a timestamp rather than an
#: age (k8s.io/apiserver registry/rest defaultTableConvertor; printers.go has no Role printer).
CREATED_AT = frozenset({"Role", "ClusterRole", "CustomResourceDefinition"})


def _custom_columns(resource: Resource) -> tuple[list[dict[str, Any]], Row]:
    """A custom resource's columns are its CRD's additionalPrinterColumns, read with their JSONPath
    (apiextensions-apiserver tableconvertor: the first result only; a date prints as an age)."""
    definitions = [
        {"name": name, "type": kind, "format": "", "description": name, "priority": priority}
        for name, kind, _path, priority in resource.printer_columns
    ]

    def row(obj: dict[str, Any]) -> list[Any]:
        cells: list[Any] = []
        for _name, kind, path, _priority in resource.printer_columns:
            found = jsonpath.first(obj, path)
            if found is jsonpath.MISSING:
                cells.append(None)
            elif kind == "date":
                cells.append(age(str(found)))
            elif kind == "string":
                cells.append(jsonpath.text(found))
            else:
                cells.append(found)
        return cells

    return definitions, row


def _columns(resource: Resource) -> tuple[list[dict[str, Any]], Row]:
    """The columns after NAME, and the cells of one object in them."""
    if resource.custom:
        return _custom_columns(resource)
    if resource.kind in CREATED_AT:
        created = {"name": "Created At", "type": "date", "format": "", "description": "Creation time", "priority": 0}
        return [created], lambda o: [(o.get("metadata") or {}).get("creationTimestamp")]
    extra, cells = COLUMNS.get(resource.kind, ([], lambda _o: []))
    definitions = [{"name": n, "type": t, "format": "", "description": n, "priority": p} for n, t, p in extra]
    # AGE comes after the default columns and before the -o wide ones, as in printers.go.
    at = next((i for i, (_n, _t, p) in enumerate(extra) if p), len(extra))
    definitions.insert(
        at, {"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0}
    )

    def row(obj: dict[str, Any]) -> list[Any]:
        values = cells(obj)
        return [*values[:at], age((obj.get("metadata") or {}).get("creationTimestamp")), *values[at:]]

    return definitions, row


def table(resource: Resource, objects: list[dict[str, Any]], include: str, resource_version: str) -> dict[str, Any]:
    extra, row = _columns(resource)
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0}]
    columns += extra
    rows = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        cells = [meta.get("name", ""), *row(obj)]
        entry: dict[str, Any] = {"cells": cells}
        if include == "Object":
            entry["object"] = obj
        elif include != "None":
            entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
