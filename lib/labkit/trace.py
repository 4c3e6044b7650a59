"""What the simulator records about one request, so ``r.explain()`` can show each decision.

A trace is a list of hops (client sidecar, egress gateway, external host, ...). Each hop lists the
steps that decided the outcome: listener, route, VirtualService, DestinationRule, cluster,
ServiceEntry, NetworkPolicy. The kube backend has no trace; it says where to look instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from .display import RichDisplay


@dataclass
class Step:
    what: str  # "listener", "route", "VirtualService", "cluster", "blocked", ...
    detail: str

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


@dataclass
class Hop:
    where: str  # "sidecar of default/sleep-5d8f7", "egress gateway istio-system/istio-egressgateway-..."
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""

    def step(self, what: str, detail: str) -> None:
        self.steps.append(Step(what, detail))


@dataclass
class Trace:
    """The hops of one HTTP exchange (one per response with ``-L``), in order."""

    request: str = ""
    hops: list[Hop] = field(default_factory=list)

    def hop(self, where: str) -> Hop:
        hop = Hop(where)
        self.hops.append(hop)
        return hop


@dataclass(repr=False)
class Explanation(RichDisplay):
    """What ``CurlResult.explain()`` returns: renders as a tree in rich, and as plain text with ``str``."""

    command: str
    traces: list[Trace]
    simulated: bool
    note: str = ""

    def __rich__(self) -> RenderableType:
        label = Text.assemble(("$ ", "dim"), (self.command, "bold"))
        if self.simulated:
            label.append("  [simulated mesh]", style="magenta")
        root = Tree(label)
        for trace in self.traces:
            branch = root.add(Text(trace.request, style="cyan")) if len(self.traces) > 1 else root
            for hop in trace.hops:
                node = branch.add(Text(hop.where, style="bold"))
                for step in hop.steps:
                    node.add(Text.assemble((f"{step.what}: ", "yellow"), step.detail))
                if hop.outcome:
                    node.add(Text.assemble(("→ ", "green"), hop.outcome))
        return Group(root, Text(self.note, style="dim")) if self.note else root

    def __str__(self) -> str:
        lines = [f"$ {self.command}" + ("  [simulated mesh]" if self.simulated else "")]
        for trace in self.traces:
            if len(self.traces) > 1:
                lines.append(f"  {trace.request}")
            for hop in trace.hops:
                lines.append(f"  - {hop.where}")
                lines += [f"      {step}" for step in hop.steps]
                if hop.outcome:
                    lines.append(f"      → {hop.outcome}")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)
