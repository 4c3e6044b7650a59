"""The outcome of one curl run, the same shape on both backends."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.panel import Panel
from rich.text import Text

from .display import RichDisplay
from .trace import Explanation, Trace


@dataclass(frozen=True)
class HttpResponse:
    """One response curl received (several with ``-L``)."""

    http_version: str  # "1.1", "2"
    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only view of one response's headers."""

    def __init__(self, pairs: tuple[tuple[str, str], ...] = ()) -> None:
        self._pairs = pairs
        self._index = {k.lower(): v for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def __iter__(self):
        return iter(k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Headers({dict(self._pairs)!r})"


@dataclass(repr=False)
class CurlResult(RichDisplay):
    """What curl did. ``status`` is None when no HTTP response came back (blocked, timed out, ...)."""

    argv: list[str]
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    elapsed: float = 0.0
    responses: list[HttpResponse] = field(default_factory=list)
    body: str = ""
    simulated: bool = False
    traces: list[Trace] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.responses[-1].status if self.responses else None

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.responses]

    @property
    def headers(self) -> Headers:
        return Headers(self.responses[-1].headers if self.responses else ())

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def summary(self) -> str:
        """One line: ``exit 0, statuses [301, 200], 0.42s``."""
        got = f"statuses {self.statuses}" if len(self.responses) > 1 else f"status {self.status}"
        tag = " (simulated)" if self.simulated else ""
        return f"exit {self.exit_code}, {got}, {self.elapsed:.2f}s{tag}"

    def __repr__(self) -> str:
        return f"<CurlResult {self.command!r}: {self.summary()}>"

    def explain(self) -> Explanation:
        """Each hop and the config that decided it. Only the simulator can see inside the mesh."""
        if self.simulated:
            return Explanation(self.command, self.traces, simulated=True)
        if self.traces:  # the envoy backend: hops the real proxies logged
            return Explanation(
                self.command,
                self.traces,
                simulated=False,
                note="Each hop is an access-log line a real Envoy wrote; its listener comes from that Envoy's "
                "config dump (lab.proxy_config('listeners', pod=...)).",
            )
        return Explanation(
            self.command,
            [],
            simulated=False,
            note="A real cluster does not report its decisions. Look at the proxy's view with "
            "`istioctl proxy-config routes|clusters|listeners <pod>` and at the access logs "
            "(lab.logs(...)); run the lab on backend='sim' to see the trace.",
        )

    def __rich__(self) -> RenderableType:
        body = Text()
        if self.stdout:
            body.append(self.stdout if self.stdout.endswith("\n") else self.stdout + "\n")
        if self.stderr:
            body.append(self.stderr, style="red")
        title = Text.assemble(("$ ", "dim"), (self.command, "bold"))
        subtitle = self.summary()
        return Panel(body or Text("(no output)", style="dim"), title=title, subtitle=subtitle, title_align="left")
