"""VirtualService matching: which http/tls route applies to a request at a given gateway.

Matching follows Istio's HTTPMatchRequest and TLSMatchAttributes reference: within one match block
every condition must hold (AND), and any one block of ``match`` is enough (OR); routes are tried in
order and the first that matches wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..schema._common import duration_seconds, is_duration
from ..schema.istio import HTTPMatchRequest, HTTPRoute, StringMatch
from .config import qualify_gateway
from .gatewayapi import route_origin
from .messages import Request
from .registry import host_matches


@dataclass(frozen=True)
class Source:
    """The workload a request comes from, as route matches see it (``sourceLabels``, ``sourceNamespace``)."""

    namespace: str
    labels: dict[str, str]


@dataclass
class HttpRouteChoice:
    """The VirtualService http route that matched, with the names the access log and explain() use."""

    vs: dict[str, Any]
    index: int
    route: HTTPRoute

    @property
    def namespace(self) -> str:
        return str(self.vs["metadata"]["namespace"])

    @property
    def source(self) -> str:
        own = f"VirtualService {self.namespace}/{self.vs['metadata']['name']} http[{self.index}]"
        origin = route_origin(self.vs, self.route.name)
        return f"{origin} (as istiod's {own})" if origin else own

    @property
    def name(self) -> str:
        """The route's name in Envoy's config and the access log: the http route's ``name``; istiod
        leaves other routes unnamed, so %ROUTE_NAME% logs "-" for them."""
        return self.route.name or "-"


def string_match(match: StringMatch | dict[str, str] | None, value: str | None, ignore_case: bool = False) -> bool:
    """Istio StringMatch: exact, prefix or RE2 regex (whole value). An empty match only asks for presence."""
    if isinstance(match, dict):
        match = StringMatch.model_validate(match)
    if value is None:
        return False
    if match is None:
        return True
    if ignore_case:
        value = value.lower()
    if match.exact is not None:
        return value == (match.exact.lower() if ignore_case else match.exact)
    if match.prefix is not None:
        return value.startswith(match.prefix.lower() if ignore_case else match.prefix)
    if match.regex is not None:
        return re.fullmatch(match.regex, value) is not None
    return True


def gateway_matches(gateways: list[str] | None, gateway: str, vs_namespace: str) -> bool:
    """A match's ``gateways`` narrows the VirtualService's; short names are in the VS's namespace."""
    if gateways is None:
        return True
    return gateway in {qualify_gateway(g, vs_namespace) for g in gateways}


def _query(path: str) -> dict[str, str]:
    query = path.split("?", 1)[1] if "?" in path else ""
    pairs = (part.split("=", 1) for part in query.split("&") if part)
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def http_match(m: HTTPMatchRequest, req: Request, port: int, source: Source, gateway: str, vs_ns: str) -> bool:
    if m.port is not None and m.port != port:
        return False
    if not gateway_matches(m.gateways, gateway, vs_ns):
        return False
    if m.uri is not None and not string_match(m.uri, req.path.split("?")[0], bool(m.ignoreUriCase)):
        return False
    for match, value in ((m.authority, req.authority), (m.method, req.method), (m.scheme, req.scheme)):
        if match is not None and not string_match(match, value):
            return False
    for name, hm in (m.headers or {}).items():
        if not string_match(hm, req.header(name)):
            return False
    for name, hm in (m.withoutHeaders or {}).items():
        if string_match(hm, req.header(name)):
            return False
    query = _query(req.path)
    for name, qm in (m.queryParams or {}).items():
        if not string_match(qm, query.get(name)):
            return False
    if m.sourceLabels and any(source.labels.get(k) != v for k, v in m.sourceLabels.items()):
        return False
    return m.sourceNamespace is None or m.sourceNamespace == source.namespace


def http_route_matches(route: HTTPRoute, req: Request, port: int, source: Source, gateway: str, vs_ns: str) -> bool:
    if not route.match:
        return True
    return any(http_match(m, req, port, source, gateway, vs_ns) for m in route.match)


def choose_http_route(
    virtual_services: list[dict[str, Any]], req: Request, port: int, source: Source, gateway: str
) -> HttpRouteChoice | None:
    """The first http route (in VirtualService order, then route order) that matches the request."""
    for vs in virtual_services:
        for i, raw in enumerate(vs["spec"].get("http") or []):
            route = HTTPRoute.model_validate(raw)
            if http_route_matches(route, req, port, source, gateway, vs["metadata"]["namespace"]):
                return HttpRouteChoice(vs, i, route)
    return None


@dataclass
class TlsRouteChoice:
    """The VirtualService tls route that matched an SNI, and where it sends the connection."""

    vs: dict[str, Any]
    index: int
    host: str  # the destination host, as written (short names are relative to the VirtualService)
    port: int | None
    subset: str

    @property
    def source(self) -> str:
        own = f"VirtualService {self.vs['metadata']['namespace']}/{self.vs['metadata']['name']} tls[{self.index}]"
        origin = route_origin(self.vs)
        return f"{origin} rules[{self.index}] (as istiod's {own})" if origin else own


def choose_tls_route(
    virtual_services: list[dict[str, Any]], sni: str, port: int, gateway: str
) -> TlsRouteChoice | None:
    """The first tls route whose match names this SNI (and port and gateway), in order."""
    for vs in virtual_services:
        for i, route in enumerate(vs["spec"].get("tls") or []):
            if tls_route_matches(route, sni, port, gateway, vs["metadata"]["namespace"]):
                dest = route["route"][0]["destination"]
                return TlsRouteChoice(
                    vs, i, dest["host"], (dest.get("port") or {}).get("number"), dest.get("subset", "")
                )
    return None


def tls_route_matches(route: dict[str, Any], sni: str, port: int, gateway: str, vs_namespace: str) -> bool:
    for m in route.get("match") or []:
        if "port" in m and m["port"] != port:
            continue
        if not gateway_matches(m.get("gateways"), gateway, vs_namespace):
            continue
        if any(host_matches(h, sni) for h in m.get("sniHosts") or []):
            return True
    return False


def parse_duration(value: str | None) -> float | None:
    """A protobuf/Go duration as Istio takes it (``3s``, ``500ms``, ``1m30s``); None when unset."""
    if not value:
        return None
    if not is_duration(value.strip()):
        raise ValueError(f"not a duration: {value!r}")
    return duration_seconds(value.strip())
