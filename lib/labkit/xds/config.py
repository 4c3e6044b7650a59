"""The result of a translation: the xDS resources one proxy holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from .envoy import Obj


@dataclass
class EnvoyConfig:
    """Listeners (LDS), route configurations (RDS), clusters (CDS) and the SDS secret names they use,
    as Envoy v3 JSON objects with their ``@type``. ``node_id`` is what istiod calls the proxy
    (``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``, or ``router~...`` for a gateway)."""

    node_id: str
    listeners: list[Obj] = field(default_factory=list)
    routes: list[Obj] = field(default_factory=list)
    clusters: list[Obj] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def listener(self, name: str) -> Obj | None:
        return next((x for x in self.listeners if x["name"] == name), None)

    def route(self, name: str) -> Obj | None:
        return next((x for x in self.routes if x["name"] == name), None)

    def cluster(self, name: str) -> Obj | None:
        return next((x for x in self.clusters if x["name"] == name), None)
