"""VirtualService matching: which http/tls route applies to a request at a given gateway."""

from __future__ import annotations

import re
from typing import Any

from .config import qualify_gateway
from .messages import Request
from .registry import host_matches


def string_match(match: dict[str, str] | None, value: str) -> bool:
    if not match:
        return True
    if "exact" in match:
        return value == match["exact"]
    if "prefix" in match:
        return value.startswith(match["prefix"])
    if "regex" in match:
        return re.fullmatch(match["regex"], value) is not None
    return True


def gateway_matches(match: dict[str, Any], gateway: str, vs_namespace: str) -> bool:
    """A match's ``gateways`` narrows the VirtualService's; short names are in the VS's namespace."""
    if "gateways" not in match:
        return True
    return gateway in {qualify_gateway(g, vs_namespace) for g in match["gateways"]}


def http_route_matches(
    route: dict[str, Any], req: Request, port: int, source_labels: dict[str, str], gateway: str, vs_namespace: str
) -> bool:
    matches = route.get("match")
    if not matches:
        return True
    for m in matches:
        if "port" in m and m["port"] != port:
            continue
        if not gateway_matches(m, gateway, vs_namespace):
            continue
        if not string_match(m.get("uri"), req.path.split("?")[0]):
            continue
        if not string_match(m.get("authority"), req.authority):
            continue
        if not string_match(m.get("method"), req.method):
            continue
        if not string_match(m.get("scheme"), req.scheme):
            continue
        headers = (m.get("headers") or {}).items()
        if any(req.header(k) is None or not string_match(v, req.header(k) or "") for k, v in headers):
            continue
        if m.get("sourceLabels") and any(source_labels.get(k) != v for k, v in m["sourceLabels"].items()):
            continue
        return True
    return False


def tls_route_matches(route: dict[str, Any], sni: str, port: int, gateway: str, vs_namespace: str) -> bool:
    for m in route.get("match") or []:
        if "port" in m and m["port"] != port:
            continue
        if not gateway_matches(m, gateway, vs_namespace):
            continue
        if any(host_matches(h, sni) for h in m.get("sniHosts") or []):
            return True
    return False


def parse_duration(value: str | None) -> float | None:
    """Protobuf durations as Istio takes them: ``3s``, ``0.5s``, ``100ms``, ``1m``, ``1h``."""
    if not value:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value.strip())
    if not m:
        raise ValueError(f"not a duration: {value!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
