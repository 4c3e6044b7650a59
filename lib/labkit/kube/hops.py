"""``r.explain()`` on a cluster: the real hops of one request, from what the proxies themselves report.

A hop exists because an Envoy wrote an access-log line for the request (Istio's text format, which
``meshConfig.accessLogFile: /dev/stdout`` turns on, read back with ``envoy.accesslog.parse``): first
the client's sidecar, then the egress gateway's lines for the same request (the same
``x-request-id``, which the sidecar sets and the gateway receives, or for TLS passthrough the same
SNI). Lines are matched by their %START_TIME% falling within the request, give or take a second
between this machine's clock and the node's (``EARLY``, ``LATE``). Each hop's listener is named from that proxy's
own config dump (``configdump``), as ``istioctl proxy-config listeners`` shows it.

Nothing is read until ``explain()`` is called, so requests cost no extra API calls.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from ..envoy.accesslog import parse
from ..envoy.hops import listener_for, log_outcome, log_steps
from ..errors import LabkitError
from ..result import CurlResult
from ..sim.accesslog import LogEntry
from ..trace import Explanation, Trace

#: Seconds a line's %START_TIME% may read before the exec began or after it ended: a node's clock (or the
#: practice cluster's, whose zero is a whole second) may be that far off this machine's. A request sent a
#: second after another (as checks retry) is past it.
EARLY, LATE = 1.0, 1.0
PROXY_CONTAINER = "istio-proxy"
#: The egress gateway's pods in Istio's namespace (istio.io's egress gateway tasks select them so).
GATEWAY_SELECTOR = "istio=egressgateway"


@dataclass(frozen=True)
class Request:
    """Where and when one request ran: the client pod and the wall-clock interval of the exec."""

    namespace: str
    pod: str
    started: float
    ended: float
    command: str


@dataclass(frozen=True)
class Sources:
    """What the hops are read from: a pod's proxy log since N seconds, its listener names, gateway pods."""

    logs: Callable[[str, str, float], list[str]]
    listeners: Callable[[str, str], set[str]]
    gateways: Callable[[], list[tuple[str, str]]]
    wall: Callable[[], float] = time.time


def start_of(entry: LogEntry) -> float | None:
    """%START_TIME% (``2026-01-01T09:00:01.250Z``) as a Unix time; None when unreadable."""
    try:
        moment = datetime.strptime(entry.start_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc).timestamp()


def _entries(lines: list[str], request: Request) -> list[LogEntry]:
    out = []
    for line in lines:
        if not line.startswith("["):
            continue  # Envoy's and the agent's own messages share the container's stdout
        with contextlib.suppress(ValueError):
            entry = parse(line)
            start = start_of(entry)
            if start is not None and request.started - EARLY <= start <= request.ended + LATE:
                out.append(entry)
    return out


def _same_request(client: LogEntry, gateway: LogEntry) -> bool:
    if client.request_id != "-":
        return gateway.request_id == client.request_id
    return client.server_name != "-" and gateway.server_name == client.server_name


def read(request: Request, sources: Sources) -> list[Trace]:
    """One trace per exchange the client's sidecar logged: its hop, then the gateway hops of that exchange."""
    since = sources.wall() - request.started + LATE
    client_lines = _entries(sources.logs(request.namespace, request.pod, since), request)
    gateway_lines: list[tuple[str, str, LogEntry]] = []
    if client_lines:
        for namespace, pod in sources.gateways():
            gateway_lines += [(namespace, pod, e) for e in _entries(sources.logs(namespace, pod, since), request)]
    listeners: dict[tuple[str, str], set[str]] = {}

    def names(namespace: str, pod: str) -> set[str]:
        if (namespace, pod) not in listeners:
            try:
                listeners[(namespace, pod)] = sources.listeners(namespace, pod)
            except LabkitError:
                listeners[(namespace, pod)] = set()
        return listeners[(namespace, pod)]

    traces = []
    for entry in client_lines:
        trace = Trace(_exchange(entry))
        own = names(request.namespace, request.pod)
        _hop(trace, f"sidecar of {request.namespace}/{request.pod}", entry, own, True)
        for namespace, pod, gateway in gateway_lines:
            if _same_request(entry, gateway):
                _hop(trace, f"egress gateway {namespace}/{pod}", gateway, names(namespace, pod), False)
        traces.append(trace)
    return traces


def _exchange(entry: LogEntry) -> str:
    if entry.method == "-":  # a TCP proxy's line: a connection, no HTTP request
        return f"TCP connection to {entry.server_name if entry.server_name != '-' else entry.upstream_host}"
    return f"{entry.method} {entry.authority}{entry.path}"


def _hop(trace: Trace, where: str, entry: LogEntry, listeners: set[str], sidecar: bool) -> None:
    hop = trace.hop(where)
    log_steps(hop, entry, listener_for(listeners, entry.downstream_local, sidecar) if listeners else None)
    hop.outcome = log_outcome(entry)


NOTE = (
    "Each hop is an access-log line the proxy wrote for this request (kubectl logs POD -c istio-proxy); its "
    "listener comes from that proxy's config dump (lab.proxy_config('listeners', pod=...))."
)
NOTHING_LOGGED = (
    "No proxy logged this request (no sidecar, the sidecar bypassed, or access logging off: "
    "meshConfig.accessLogFile must be /dev/stdout). Look at the proxy's view with "
    "lab.proxy_config('listeners'|'routes'|'clusters', pod=...)."
)


@dataclass(repr=False)
class KubeCurlResult(CurlResult):
    """A curl on a cluster whose ``explain()`` reads the hops the proxies logged for it."""

    hops: Callable[[], list[Trace]] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, result: CurlResult, hops: Callable[[], list[Trace]]) -> KubeCurlResult:
        values: dict[str, Any] = {f.name: getattr(result, f.name) for f in fields(CurlResult)}
        return cls(**values, hops=hops)

    def explain(self) -> Explanation:
        if self.hops is None:
            return super().explain()
        traces = self.hops()
        if not traces:
            return Explanation(self.command, [], simulated=False, note=NOTHING_LOGGED)
        return Explanation(self.command, traces, simulated=False, note=NOTE)
