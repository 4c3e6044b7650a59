"""``Table`` responses: the columns ``kubectl get`` prints, computed by the server as a real one does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

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
}


def table(resource: Resource, objects: list[dict[str, Any]], include: str, resource_version: str) -> dict[str, Any]:
    extra, row = COLUMNS.get(resource.kind, ([], lambda _o: []))
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0}]
    columns += [{"name": n, "type": t, "format": "", "description": n, "priority": p} for n, t, p in extra]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0})
    rows = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        cells = [meta.get("name", ""), *row(obj), age(meta.get("creationTimestamp"))]
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
