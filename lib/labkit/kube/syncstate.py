"""istiod's view of each proxy's config sync, as ``istioctl proxy-status`` reads it.

istiod answers ``GET /debug/syncz`` on its monitoring port (15014) with one ``SyncStatus`` per
connected proxy (pilot/pkg/xds/debug.go): the proxy's ID (``<pod>.<namespace>``), its type
(``sidecar`` or ``router``), and for each xDS type the nonce istiod last sent and the nonce the
proxy last acknowledged (``cluster_sent``/``cluster_acked``, ``listener_*``, ``route_*``,
``endpoint_*``; empty fields are omitted). ``istioctl proxy-status`` calls a type NOT SENT when
nothing was sent, SYNCED when the acknowledged nonce is the sent one, STALE otherwise
(istioctl/pkg/writer/pilot/status.go, ``xdsStatus``).

Which proxies a config write reaches follows istiod's push filter (pilot/pkg/xds/proxy_dependencies.go,
``configKindAffectedProxyTypes``): a Gateway only reaches gateways (``router``), a Sidecar only
sidecars; a VirtualService bound only to gateways (``spec.gateways`` without the reserved ``mesh``)
applies to no sidecar (VirtualService reference, ``gateways``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The xDS types istioctl proxy-status shows, by their prefix in SyncStatus's JSON fields.
XDS_TYPES = ("cluster", "listener", "endpoint", "route")
SIDECAR, ROUTER = "sidecar", "router"
BOTH = frozenset({SIDECAR, ROUTER})

ISTIO_NETWORKING = "networking.istio.io"
GATEWAY_API = "gateway.networking.k8s.io"
MESH_GATEWAY = "mesh"  # VirtualService.gateways: the reserved word for every sidecar


class SyncStateUnreadable(Exception):
    """istiod's sync state could not be read or understood; the message says why."""


@dataclass(frozen=True)
class ProxySync:
    """One proxy's line of ``istioctl proxy-status``: nonces sent and acknowledged per xDS type."""

    proxy: str  # "<pod>.<namespace>"
    proxy_type: str
    sent: Mapping[str, str]
    acked: Mapping[str, str]

    def status(self, xds_type: str) -> str:
        """NOT SENT, SYNCED or STALE, as istioctl proxy-status words it."""
        sent, acked = self.sent.get(xds_type, ""), self.acked.get(xds_type, "")
        if not sent:
            return "NOT SENT"
        return "SYNCED" if sent == acked else "STALE"

    @property
    def synced(self) -> bool:
        """Every type istiod sent has been acknowledged: the proxy holds what istiod pushed last."""
        return all(self.status(t) != "STALE" for t in XDS_TYPES)

    def describe(self) -> str:
        return ", ".join(f"{t.upper()[0]}DS {self.status(t)}" for t in XDS_TYPES)


def proxy_id(namespace: str, pod: str) -> str:
    """The ID istiod gives a Kubernetes pod's proxy (and istioctl proxy-status shows)."""
    return f"{pod}.{namespace}"


def parse(text: str) -> dict[str, ProxySync]:
    """``/debug/syncz``'s JSON (a list of SyncStatus) by proxy ID; raise SyncStateUnreadable otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SyncStateUnreadable(f"/debug/syncz did not answer JSON ({exc})") from None
    if not isinstance(data, list):
        raise SyncStateUnreadable(f"/debug/syncz answered a {type(data).__name__}, not a list of proxies")
    out: dict[str, ProxySync] = {}
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("proxy"), str):
            raise SyncStateUnreadable(f"/debug/syncz entry without a proxy ID: {str(entry)[:120]}")
        out[entry["proxy"]] = ProxySync(
            proxy=entry["proxy"],
            # Before proxy_type was reported (Istio < 1.19) every entry counts as a sidecar.
            proxy_type=str(entry.get("proxy_type") or SIDECAR),
            sent={t: str(entry.get(f"{t}_sent") or "") for t in XDS_TYPES},
            acked={t: str(entry.get(f"{t}_acked") or "") for t in XDS_TYPES},
        )
    return out


def reaches(
    api_version: str,
    kind: str,
    namespace: str | None,
    name: str,
    obj: Mapping[str, Any] | None,
    istio_namespace: str = "istio-system",
) -> frozenset[str]:
    """The proxy types (``sidecar``, ``router``) a write of this object is pushed to; empty when it is
    no mesh config. ``obj`` is the object as written (None when its spec is unknown: then every type
    it may reach)."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group == "" and kind == "ConfigMap" and (namespace, name) == (istio_namespace, "istio"):
        return BOTH  # the mesh config: every proxy
    if group == ISTIO_NETWORKING:
        if kind == "Gateway":
            return frozenset({ROUTER})
        if kind == "Sidecar":
            return frozenset({SIDECAR})
        if kind == "VirtualService" and obj is not None:
            gateways = (obj.get("spec") or {}).get("gateways") or [MESH_GATEWAY]
            return BOTH if MESH_GATEWAY in gateways else frozenset({ROUTER})
        return BOTH
    if group == GATEWAY_API:
        # A Gateway API Gateway deploys and configures a gateway; routes may bind to Services (the mesh).
        return frozenset({ROUTER}) if kind in ("Gateway", "GatewayClass") else BOTH
    return frozenset()
