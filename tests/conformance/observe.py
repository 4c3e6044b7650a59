"""What one request looks like from the outside, as comparable fields: curl's exit code and status, the
headers that matter, what httpbin echoes, and the access-log fields of the proxies it passed.

Each field is a short string, so two backends' observations compare key by key. Values that differ on
every run (request ids, trace ids, dates, durations, ports a kernel picks) are left out by design.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.envoy.accesslog import parse
from labkit.lab import Lab
from labkit.result import CurlResult

#: Headers httpbin echoes whose value changes per request or per curl build: compared by presence only.
VOLATILE_ECHO = {"user-agent", "x-amzn-trace-id", "x-request-id"}
#: Headers only Istio's own proxy build adds (metadata exchange, its tracer): one field says which came.
ISTIO_FILTER_HEADERS = ("x-envoy-peer-metadata", "x-envoy-peer-metadata-id", "x-b3-")
#: The access-log fields compared: what Istio's troubleshooting guides read a line for.
LOG_FIELDS = {
    "code": lambda e: str(e.response_code),
    "flags": lambda e: e.flags,
    "cluster": lambda e: e.upstream_cluster,
    "route": lambda e: e.route_name,
    "upstream_host": lambda e: e.upstream_host,
    "sni": lambda e: e.server_name,
}


@dataclass(frozen=True)
class Proxy:
    """A proxy whose access log the request is expected to reach: ``sidecar`` or ``gateway``."""

    role: str
    namespace: str
    selector: str


@dataclass
class Request:
    url: str
    args: tuple[str, ...] = ("-sS",)
    client: str = "sleep"
    namespace: str = "default"
    logs: tuple[Proxy, ...] = ()
    timeout: float = 30.0


@dataclass
class Observation:
    fields: dict[str, str] = field(default_factory=dict)
    result: CurlResult | None = None


def observe(lab: Lab, request: Request, settle: Callable[[], None]) -> Observation:
    before = {p.role: len(lab.logs(p.namespace, p.selector)) for p in request.logs}
    result = lab.curl(
        request.url, *request.args, client=request.client, namespace=request.namespace, timeout=request.timeout
    )
    out = Observation(result=result)
    out.fields["exit_code"] = str(result.exit_code)
    out.fields["status"] = str(result.status)
    last = result.responses[-1] if result.responses else None
    if last is not None:
        out.fields["header.server"] = last.header("server") or "-"
        out.fields["header.x-envoy-*"] = (
            ",".join(sorted(k.lower() for k, _ in last.headers if k.lower().startswith("x-envoy-"))) or "-"
        )
    out.fields.update(_echo(result.body))
    title = re.search(r"<title>(.*?)</title>", result.body or "", re.S)
    if title:
        out.fields["body.title"] = title.group(1).strip()
    for proxy in request.logs:
        lines = _new_lines(lab, proxy, before[proxy.role], settle)
        out.fields[f"log.{proxy.role}.lines"] = str(len(lines))
        if lines:
            entry = parse(lines[-1])
            for name, get in LOG_FIELDS.items():
                out.fields[f"log.{proxy.role}.{name}"] = get(entry)
            out.fields[f"log.{proxy.role}.upstream_host"] = _address(lab, entry.upstream_host)
    return out


def _address(lab: Lab, host: str) -> str:
    """An address as what it belongs to (``pod:<app>:<port>``, ``service:<name>:<port>``), so two runs
    that hand out different cluster addresses compare; addresses outside the cluster stay as they are."""
    ip, sep, port = host.rpartition(":")
    cluster = lab.driver.mesh.cluster  # type: ignore[attr-defined]  # both backends keep the control plane
    pod = cluster.pod_by_ip(ip) if sep else None
    if pod is not None:
        labels = pod["metadata"].get("labels") or {}
        return f"pod:{labels.get('app') or labels.get('run') or pod['metadata']['name']}:{port}"
    svc = cluster.service_by_ip(ip) if sep else None
    if svc is not None:
        return f"service:{svc['metadata']['name']}:{port}"
    return host


def _new_lines(lab: Lab, proxy: Proxy, seen: int, settle: Callable[[], None]) -> list[str]:
    """Lines written since the request began; a real proxy may write its line a moment after curl ends
    (a TCP proxy logs when the connection closes), so wait up to two seconds for one."""
    deadline = time.monotonic() + 2.0
    while True:
        lines = lab.logs(proxy.namespace, proxy.selector)[seen:]
        if lines or time.monotonic() > deadline or lab.simulated:
            return lines
        settle()


def _echo(body: str) -> dict[str, str]:
    """httpbin's /headers (and /get) answer: the request headers it received."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return {}
    headers = data.get("headers") if isinstance(data, dict) else None
    if not isinstance(headers, dict):
        return {}
    names = sorted(k.lower() for k in headers)
    istio = [n for n in names if n.startswith(ISTIO_FILTER_HEADERS)]
    out = {
        "echo.names": ",".join(n for n in names if n not in istio),
        "echo.istio-filter-headers": ",".join(istio) or "-",
    }
    for name, value in headers.items():
        if name.lower() not in VOLATILE_ECHO and name.lower() not in istio:
            out[f"echo.{name.lower()}"] = str(value)
    return out
