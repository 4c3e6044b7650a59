"""The real hops of one request: which listener, route and cluster of which Envoy served it.

Read from what the proxies themselves report: the access-log lines they wrote during the request
(Istio's text format, ``accesslog.parse``) and the listeners they hold (their ``/config_dump``). Nothing
here is a model: a hop exists because an Envoy logged it.
"""

from __future__ import annotations

from ..sim.accesslog import LogEntry
from ..trace import Hop, Trace
from .accesslog import parse
from .plane import Pod

#: The catch-all listener a sidecar's captured connections enter by (istiod's virtualOutbound).
VIRTUAL_OUTBOUND = "virtualOutbound"
#: Request headers Istio's own proxy build adds on a sidecar's outbound HTTP requests, and the filter that
#: adds them: it is not in upstream Envoy, so requests through this backend's sidecars never carry them.
ISTIO_ONLY_HEADERS = {
    "x-envoy-peer-metadata": "istio.metadata_exchange",
    "x-envoy-peer-metadata-id": "istio.metadata_exchange",
}
NOT_BUILT = (
    "Istio's metadata-exchange filter (istio.metadata_exchange), which adds x-envoy-peer-metadata and "
    "x-envoy-peer-metadata-id, is part of Istio's proxy build and not of upstream Envoy: this request left "
    "without those headers"
)


def log_marks(pods: list[Pod]) -> dict[str, int]:
    """How many access-log lines each proxy has written so far."""
    return {f"{p.namespace}/{p.name}": len(p.proxy.access_log()) for p in pods if p.proxy is not None}


def log_steps(hop: Hop, entry: LogEntry, listener: str | None) -> None:
    """What one access-log line tells about a hop: listener (when known), route, cluster, upstream host,
    SNI and response flags, in the order a request meets them."""
    if listener is not None:
        hop.step("listener", listener)
    hop.step("route", entry.route_name)
    hop.step("cluster", entry.upstream_cluster)
    hop.step("upstream host", entry.upstream_host)
    if entry.server_name != "-":
        hop.step("SNI", entry.server_name)
    if entry.flags != "-":
        hop.step("response flags", entry.flags)


def log_outcome(entry: LogEntry) -> str:
    code = "no HTTP response (TCP)" if entry.response_code == 0 else f"HTTP {entry.response_code}"
    return f"{code}, {entry.details}"


def listener_for(listeners: set[str], downstream_local: str, sidecar: bool) -> str:
    """The listener that took a connection to ``ip:port``: istiod's ``<ip>_<port>`` or ``0.0.0.0_<port>``,
    else (a sidecar) virtualOutbound's own catch-all chain."""
    ip, _, port = downstream_local.rpartition(":")
    for name in (f"{ip}_{port}", f"0.0.0.0_{port}"):
        if name in listeners:
            return name
    return VIRTUAL_OUTBOUND if sidecar else "-"


def trace(pods: list[Pod], marks: dict[str, int], request: str) -> Trace:
    """One hop per access-log line written since ``marks``, client sidecar first, then gateways."""
    out = Trace(request)
    ordered = sorted(pods, key=lambda p: p.proxy is not None and p.proxy.kind == "router")
    for pod in ordered:
        proxy = pod.proxy
        if proxy is None:
            continue
        lines = [x for x in proxy.access_log()[marks.get(f"{pod.namespace}/{pod.name}", 0) :] if x.startswith("[")]
        if not lines:
            continue
        dump = proxy.config_dump("dynamic_listeners")  # the listener names only: a fifth of the whole dump
        listeners = {x.get("name", "") for x in dump.get("configs", [])}  # one DynamicListener per entry
        role = "egress gateway" if proxy.kind == "router" else "sidecar"
        for line in lines:
            entry = parse(line)
            hop: Hop = out.hop(f"{role} of {pod.namespace}/{pod.name} (real Envoy)")
            log_steps(hop, entry, listener_for(listeners, entry.downstream_local, proxy.kind == "sidecar"))
            if proxy.kind == "sidecar" and entry.response_code != 0:
                hop.step("not built", NOT_BUILT)
            hop.outcome = log_outcome(entry)
    return out
