"""Applications running in simulated pods that are not proxies. By default a pod answers nothing
(connection refused), like the sleep client, whose container only sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..trace import Trace
from .messages import REFUSED, Connection, Outcome

Server = Callable[[dict[str, Any], Connection, Trace], Outcome]


class Apps:
    def __init__(self) -> None:
        self._servers: list[tuple[Callable[[dict[str, Any]], bool], Server]] = []

    def register(self, matches: Callable[[dict[str, Any]], bool], server: Server) -> None:
        """Serve pods for which ``matches(pod)`` holds (e.g. by image) with ``server``."""
        self._servers.append((matches, server))

    def serve(self, pod: dict[str, Any], conn: Connection, trace: Trace) -> Outcome:
        for matches, server in self._servers:
            if matches(pod):
                return server(pod, conn, trace)
        hop = trace.hop(f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        hop.outcome = f"nothing listens on port {conn.dst_port}: connection refused"
        return Outcome.failed(REFUSED, hop.outcome)
