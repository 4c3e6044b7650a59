"""What one proxy can see: exportTo, the Sidecar resource that applies to it, and which registry
entry wins when several declare the same hostname.

This follows istiod (Istio 1.27, pilot/pkg/model/push_context.go and sidecar.go) rule by rule:
- exportTo decides which namespaces see a service, VirtualService or DestinationRule;
- a Sidecar's egress ``hosts`` narrow that down for the workloads it applies to (gateways ignore it);
- for one hostname, the proxy's own namespace wins, then a Kubernetes Service over a ServiceEntry,
  then the oldest entry.

Everything here is a pure function of stored objects (plain dicts) and the mesh config dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..manifests import selector_matches
from .registry import MeshService, build, creation_order, fqdn

ANY = "*"  # exportTo / Sidecar namespace: every namespace
HERE = "."  # the object's own namespace
NOWHERE = "~"  # no namespace
MESH_GATEWAY = "mesh"
DEFAULT_ROOT_NAMESPACE = "istio-system"
HTTP_PROXY = "HTTP_PROXY"  # an egress listener with this protocol does not narrow by port

Obj = dict[str, Any]


class ScopeError(ValueError):
    """Config that istiod would reject or whose effect the simulator does not model."""


# -- exportTo ---------------------------------------------------------------------------------------


def exported(owner_namespace: str, export_to: Sequence[str], default: Sequence[str] | None, namespace: str) -> bool:
    """Whether a service or VirtualService in ``owner_namespace`` is visible in ``namespace``.

    Unset exportTo takes the mesh default, of which istiod honours only ``.`` and ``*`` (``.``
    first); set, ``*`` wins over everything, ``~`` hides it, ``.`` means its own namespace
    (push_context.go initServiceRegistry / initVirtualServices).
    """
    if not export_to:
        defaults = set(default) if default else {ANY}
        if HERE in defaults:
            return namespace == owner_namespace
        return ANY in defaults
    values = set(export_to)
    if ANY in values:
        return True
    if NOWHERE in values:
        return False
    return namespace in values or (HERE in values and namespace == owner_namespace)


def service_exported(svc: MeshService, namespace: str, mesh: Mapping[str, Any]) -> bool:
    """ServiceEntry ``exportTo`` or a Service's ``networking.istio.io/exportTo`` annotation."""
    return exported(svc.namespace, svc.export_to, mesh.get("defaultServiceExportTo"), namespace)


def virtual_service_exported(vs: Obj, namespace: str, mesh: Mapping[str, Any]) -> bool:
    return exported(
        vs["metadata"]["namespace"],
        vs["spec"].get("exportTo") or (),
        mesh.get("defaultVirtualServiceExportTo"),
        namespace,
    )


def _dr_export_set(dr: Obj) -> set[str]:
    # A DestinationRule with a workloadSelector is never exported (push_context.go setDestinationRules).
    if dr["spec"].get("workloadSelector") is not None:
        return {HERE}
    return set(dr["spec"].get("exportTo") or ())


def _dr_local(dr: Obj) -> bool:
    """In its own namespace's pool: the mesh default does not matter there (setDestinationRules)."""
    values = _dr_export_set(dr)
    return not values or bool(values & {ANY, HERE, dr["metadata"]["namespace"]})


def _dr_private_only(dr: Obj, mesh: Mapping[str, Any]) -> bool:
    values = _dr_export_set(dr)
    if not values:
        return HERE in set(mesh.get("defaultDestinationRuleExportTo") or ())
    return len(values) == 1 and bool(values & {HERE, dr["metadata"]["namespace"]})


def _dr_exported_to(dr: Obj, namespace: str, mesh: Mapping[str, Any]) -> bool:
    """Usable by clients in another namespace (getExportedDestinationRuleFromNamespace)."""
    if _dr_private_only(dr, mesh):
        return False
    values = _dr_export_set(dr)
    return not values or ANY in values or namespace in values


# -- host names -------------------------------------------------------------------------------------


def subset_of(name: str, pattern: str) -> bool:
    """Istio's host.Name.SubsetOf: every host ``name`` matches is also matched by ``pattern``."""
    name, pattern = name.lower(), pattern.lower()
    if pattern.startswith("*"):
        return (name[1:] if name.startswith("*") else name).endswith(pattern[1:])
    return not name.startswith("*") and name == pattern


def hosts_overlap(a: str, b: str) -> bool:
    """Istio's host.Name.Matches: one of the two names (wildcards included) covers the other."""
    a, b = a.lower(), b.lower()
    if a.startswith("*") and b.startswith("*"):
        short, long_ = sorted((a[1:], b[1:]), key=len)
        return long_.endswith(short)
    if a.startswith("*"):
        return b.endswith(a[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return a == b


# -- the Sidecar resource ---------------------------------------------------------------------------


def _created(obj: Obj) -> tuple[str, str, str]:
    """istiod's sortConfigByCreationTime: oldest first, then name, then namespace."""
    meta = obj["metadata"]
    return (meta.get("creationTimestamp", ""), meta["name"], meta["namespace"])


@dataclass(frozen=True)
class SidecarChoice:
    sidecar: Obj | None
    reason: str

    @property
    def name(self) -> str:
        if self.sidecar is None:
            return "none"
        return f"{self.sidecar['metadata']['namespace']}/{self.sidecar['metadata']['name']}"


def sidecar_for(pod: Obj, sidecars: Iterable[Obj], root_namespace: str) -> SidecarChoice:
    """The Sidecar that applies to a pod (push_context.go getSidecarScope).

    In the pod's namespace one whose workloadSelector selects the pod wins, then the one without a
    selector; else the root namespace's one without a selector. The Sidecar reference calls two
    candidates of one kind undefined; istiod takes the oldest, and so does this.
    """
    ns = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    ordered = sorted(sidecars, key=_created)
    local = [s for s in ordered if s["metadata"]["namespace"] == ns]
    selecting = [
        s
        for s in local
        if s["spec"].get("workloadSelector") is not None
        and selector_matches((s["spec"]["workloadSelector"].get("labels") or {}), labels)
    ]
    plain = [s for s in local if s["spec"].get("workloadSelector") is None]
    root = [
        s for s in ordered if s["metadata"]["namespace"] == root_namespace and s["spec"].get("workloadSelector") is None
    ]
    for found, why in (
        (selecting, f"its workloadSelector selects this pod in {ns}"),
        (plain, f"it has no workloadSelector, so it applies to all of {ns}"),
        (root, f"{ns} has none, so the root namespace {root_namespace}'s default applies"),
    ):
        if found:
            reason = why
            if len(found) > 1:
                others = ", ".join(s["metadata"]["name"] for s in found[1:])
                reason += f"; also {others}: undefined per the Sidecar reference, istiod takes the oldest"
            return SidecarChoice(found[0], reason)
    return SidecarChoice(None, "no Sidecar applies: every service exported to this namespace is visible")


@dataclass(frozen=True)
class EgressListener:
    """One ``egress`` entry: the hosts it imports by namespace, and its port if it narrows by one."""

    hosts: dict[str, tuple[str, ...]]  # namespace (or "*") -> dnsNames
    port: int | None = None
    protocol: str | None = None
    spec: Obj = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: Obj, sidecar_namespace: str) -> EgressListener:
        hosts: dict[str, list[str]] = {}
        for h in spec.get("hosts") or []:
            if h.count("/") != 1:
                raise ScopeError(f"Sidecar egress host {h!r}: must be namespace/dnsName")
            ns, name = h.split("/")
            hosts.setdefault(sidecar_namespace if ns == HERE else ns, []).append(name)
        port = spec.get("port") or {}
        return cls({k: tuple(v) for k, v in hosts.items()}, port.get("number") or None, port.get("protocol"), spec)

    @property
    def matches_port(self) -> bool:
        """needsPortMatch: a listener port narrows imports, except for an HTTP_PROXY listener."""
        return bool(self.port) and (self.protocol or "").upper() != HTTP_PROXY

    def imports(self, namespace: str, hostname: str) -> bool:
        """selectServices: an explicit ``ns/host`` import, or a ``*/host`` one."""
        return any(subset_of(hostname, name) for ns in (namespace, ANY) for name in self.hosts.get(ns, ()))

    def imports_virtual_service(self, vs: Obj) -> bool:
        """SelectVirtualServices: a VirtualService host overlaps an import of its namespace or ``*``."""
        ns = vs["metadata"]["namespace"]
        return any(
            hosts_overlap(fqdn(h, ns), name)
            for h in vs["spec"].get("hosts") or []
            for scope in (ns, ANY)
            for name in self.hosts.get(scope, ())
        )


def egress_listeners(sidecar: Obj | None) -> list[EgressListener]:
    """The Sidecar's listeners; none (or no egress) means one listener importing ``*/*``."""
    if sidecar is None or not sidecar["spec"].get("egress"):
        return [EgressListener({ANY: (ANY,)})]
    ns = sidecar["metadata"]["namespace"]
    return [EgressListener.parse(e, ns) for e in sidecar["spec"]["egress"]]


# -- which registry entry wins ----------------------------------------------------------------------


def exported_services(registry: Iterable[MeshService], namespace: str, mesh: Mapping[str, Any]) -> list[MeshService]:
    """servicesExportedToNamespace: the namespace's private services, those exported to it by
    name, then the public ones; each group oldest first."""
    private, named, public = [], [], []
    for svc in creation_order(list(registry)):
        if not service_exported(svc, namespace, mesh):
            continue
        values = set(svc.export_to) or set(mesh.get("defaultServiceExportTo") or [ANY])
        if ANY in values and (svc.export_to or HERE not in values):
            public.append(svc)
        elif svc.namespace == namespace:
            private.append(svc)
        else:
            named.append(svc)
    return private + named + public


def _trim_to_port(svc: MeshService, port: int) -> MeshService | None:
    """serviceMatchingListenerPort: the entry with only the listener's port, or nothing."""
    kept = [p for p in svc.ports if p.number == port]
    return replace(svc, ports=kept) if kept else None


def _trim_to_ports(svc: MeshService, ports: set[int]) -> MeshService | None:
    """serviceMatchingVirtualServicePorts: 0 means a destination without a port (all ports)."""
    if not ports or 0 in ports:
        return svc
    kept = [p for p in svc.ports if p.number in ports]
    if kept:
        return replace(svc, ports=kept)
    return None


def select_for_listener(
    candidates: list[MeshService], listener: EgressListener, namespace: str, notes: list[str] | None = None
) -> list[MeshService]:
    """IstioEgressListenerWrapper.selectServices with PILOT_UNIFIED_SIDECAR_SCOPE (on by default):
    import by the listener's hosts, then keep one namespace per hostname: first seen, replaced by
    the proxy's own namespace, or by a Kubernetes Service unless that would displace the proxy's
    own namespace. Why an entry lost goes to ``notes``."""
    imported: list[MeshService] = []
    for svc in candidates:
        if not listener.imports(svc.namespace, svc.hostname):
            continue
        chosen = _trim_to_port(svc, listener.port) if listener.matches_port and listener.port else svc
        if chosen is not None:
            imported.append(chosen)
    winner: dict[str, MeshService] = {}
    for svc in imported:
        key = svc.hostname.lower()
        if _takes_over(winner.get(key), svc, namespace):
            winner[key] = svc
    kept = [s for s in imported if winner[s.hostname.lower()].namespace == s.namespace]
    for svc in imported:
        won = winner[svc.hostname.lower()]
        if notes is not None and won.namespace != svc.namespace:
            notes.append(f"{svc.hostname}: {won.source} used, not {svc.source} ({_why_won(won, namespace)})")
    return kept


def _why_won(won: MeshService, namespace: str) -> str:
    if won.namespace == namespace:
        return "the proxy's own namespace wins"
    if won.is_kubernetes:
        return "a Kubernetes Service wins over a ServiceEntry"
    return "the oldest entry wins"


def _takes_over(current: MeshService | None, svc: MeshService, namespace: str) -> bool:
    if current is None or svc.namespace == namespace:
        return True  # the first one seen, or the proxy's own namespace
    return not current.is_kubernetes and svc.is_kubernetes and current.namespace != namespace


def _can_merge(a: MeshService, b: MeshService) -> bool:
    """canMergeServices: same namespace, resolution, registry, labels and exportTo."""
    return (
        a.namespace == b.namespace
        and a.resolution == b.resolution
        and a.is_kubernetes == b.is_kubernetes
        and a.labels == b.labels
        and set(a.export_to) == set(b.export_to)
    )


class _Collected:
    """SidecarScope.appendSidecarServices: one entry per hostname, merged or replaced as istiod does."""

    def __init__(self) -> None:
        self.services: list[MeshService] = []
        self._at: dict[str, int] = {}
        self.notes: list[str] = []

    def add(self, svc: MeshService | None) -> None:
        if svc is None:
            return
        key = svc.hostname.lower()
        if key not in self._at:
            self._at[key] = len(self.services)
            self.services.append(svc)
            return
        i = self._at[key]
        old = self.services[i]
        if old.source == svc.source and old.namespace == svc.namespace and old.ports == svc.ports:
            return
        if old.is_kubernetes and not svc.is_kubernetes:
            self.notes.append(f"{svc.hostname}: {svc.source} ignored, the Kubernetes {old.source} has it")
            return
        if not old.is_kubernetes and svc.is_kubernetes:
            self.notes.append(f"{svc.hostname}: the Kubernetes {svc.source} replaces {old.source}")
            self.services[i] = svc
            return
        if old.ports == svc.ports:
            if old.source != svc.source:
                self.notes.append(f"{svc.hostname}: {svc.source} ignored, {old.source} is older")
            return
        if not _can_merge(old, svc):
            self.notes.append(f"{svc.hostname}: {svc.source} ignored, {old.source} is older and they cannot merge")
            return
        known = {p.number for p in old.ports}
        self.services[i] = replace(old, ports=[*old.ports, *(p for p in svc.ports if p.number not in known)])


def _by_hostname_and_namespace(registry: Iterable[MeshService]) -> dict[str, dict[str, MeshService]]:
    """ServiceIndex.HostnameAndNamespace: per namespace the oldest, a Kubernetes Service over others."""
    out: dict[str, dict[str, MeshService]] = {}
    for svc in creation_order(list(registry)):
        slot = out.setdefault(svc.hostname.lower(), {})
        old = slot.get(svc.namespace)
        if old is None or (not old.is_kubernetes and svc.is_kubernetes):
            slot[svc.namespace] = svc
    return out


def virtual_service_destinations(vs: Obj, namespace: str) -> dict[str, set[int]]:
    """Hosts a VirtualService routes to, with their ports (0: no port); http routes whose match
    names another sourceNamespace are left out (virtualServiceDestinationsFilteredBySourceNamespace)."""
    vs_ns = vs["metadata"]["namespace"]
    out: dict[str, set[int]] = {}

    def add(dest: Obj | None) -> None:
        if dest and dest.get("host"):
            out.setdefault(fqdn(dest["host"], vs_ns).lower(), set()).add((dest.get("port") or {}).get("number") or 0)

    for route in vs["spec"].get("http") or []:
        sources = [m.get("sourceNamespace") for m in route.get("match") or [] if m.get("sourceNamespace")]
        if sources and namespace not in sources:
            continue
        for r in route.get("route") or []:
            add(r.get("destination"))
        add(route.get("mirror"))
        for m in route.get("mirrors") or []:
            add(m.get("destination"))
    for kind in ("tcp", "tls"):
        for route in vs["spec"].get(kind) or []:
            for r in route.get("route") or []:
                add(r.get("destination"))
    return out


# -- DestinationRules -------------------------------------------------------------------------------


def _most_specific(host: str, rules: list[Obj]) -> list[Obj]:
    """MostSpecificHostMatch: the rules for an exact host, else for the longest matching wildcard."""
    host = host.lower()
    hosts = {id(r): fqdn(r["spec"]["host"], r["metadata"]["namespace"]).lower() for r in rules}
    exact = [r for r in rules if hosts[id(r)] == host]
    if exact:
        return exact
    wild = [r for r in rules if hosts[id(r)].startswith("*") and subset_of(host, hosts[id(r)])]
    if not wild:
        return []
    best = max(len(hosts[id(r)]) for r in wild)
    return [r for r in wild if len(hosts[id(r)]) == best]


def merge_destination_rules(rules: list[Obj]) -> Obj:
    """istiod's mergeDestinationRule for rules of one host in one namespace (oldest first): later
    rules only add subsets with new names, and a top-level trafficPolicy when none is set yet.
    Rules with different exportTo or workload selectors stay separate in istiod; that is refused."""
    first = rules[0]
    for other in rules[1:]:
        if _dr_export_set(other) != _dr_export_set(first) or other["spec"].get("workloadSelector") != first["spec"].get(
            "workloadSelector"
        ):
            names = ", ".join(f"{r['metadata']['namespace']}/{r['metadata']['name']}" for r in rules)
            raise ScopeError(
                f"DestinationRules {names} for one host differ in exportTo or workloadSelector: "
                "not modelled by the offline simulator; use one DestinationRule per host"
            )
    spec = dict(first["spec"])
    subsets = list(spec.get("subsets") or [])
    for other in rules[1:]:
        known = {s.get("name") for s in subsets}
        subsets += [s for s in other["spec"].get("subsets") or [] if s.get("name") not in known]
        if spec.get("trafficPolicy") is None and other["spec"].get("trafficPolicy") is not None:
            spec["trafficPolicy"] = other["spec"]["trafficPolicy"]
    if subsets:
        spec["subsets"] = subsets
    return {**first, "spec": spec}


# -- one proxy's view -------------------------------------------------------------------------------


@dataclass
class ListenerView:
    """One egress listener's share: the services an app's request through it can address, and the
    VirtualServices its routes use (IstioEgressListenerWrapper services and virtualServices)."""

    listener: EgressListener
    services: list[MeshService]
    virtual_services: list[Obj]

    def service(self, host: str) -> MeshService | None:
        return _find(self.services, host)


@dataclass
class Scope:
    """The services and config one proxy sees, as istiod's SidecarScope for it.

    ``services`` are all the proxy's clusters, VirtualService destinations included; ``egress``
    says per listener which of them an app can address directly and which routes apply.
    """

    namespace: str
    pod_labels: dict[str, str]
    is_gateway: bool
    mesh: Mapping[str, Any]
    root_namespace: str
    sidecar: SidecarChoice
    egress: list[ListenerView]
    services: list[MeshService]
    all_destination_rules: list[Obj]
    registry: list[MeshService]
    notes: list[str]

    @classmethod
    def for_proxy(cls, pod: Obj, objects: Iterable[Obj], mesh: Mapping[str, Any], gateway: bool = False) -> Scope:
        """``objects``: the stored Services, ServiceEntries, VirtualServices, DestinationRules and
        Sidecars (others are skipped). ``gateway``: a gateway proxy, which no Sidecar applies to."""
        by_kind: dict[str, list[Obj]] = {}
        for obj in objects:
            by_kind.setdefault(obj.get("kind", ""), []).append(obj)
        registry = build(by_kind.get("Service", []), by_kind.get("ServiceEntry", []))
        return cls.build(
            pod, registry, by_kind.get("VirtualService", []), by_kind.get("DestinationRule", []),
            by_kind.get("Sidecar", []), mesh, gateway,
        )  # fmt: skip

    @classmethod
    def build(
        cls,
        pod: Obj,
        registry: list[MeshService],
        virtual_services: list[Obj],
        destination_rules: list[Obj],
        sidecars: list[Obj],
        mesh: Mapping[str, Any],
        gateway: bool = False,
    ) -> Scope:
        ns = pod["metadata"]["namespace"]
        root = mesh.get("rootNamespace") or DEFAULT_ROOT_NAMESPACE
        candidates = exported_services(registry, ns, mesh)
        exported_vs = sorted((v for v in virtual_services if virtual_service_exported(v, ns, mesh)), key=_created)
        # SelectVirtualServices' order: private to this namespace, exported to it by name, public.
        exported_vs.sort(key=lambda v: _vs_group(v, ns, mesh))
        collected = _Collected()
        egress: list[ListenerView] = []
        if gateway:
            # DefaultSidecarScopeForGateway: every exported service; Sidecars do not apply to gateways.
            choice = SidecarChoice(None, "a gateway: the Sidecar resource does not apply to gateways")
            for svc in candidates:
                collected.add(svc)
            egress.append(ListenerView(egress_listeners(None)[0], collected.services, exported_vs))
        else:
            choice = sidecar_for(pod, sidecars, root)
            _refuse_unmodelled(choice)
            index = _by_hostname_and_namespace(registry)
            for listener in egress_listeners(choice.sidecar):
                own = _Collected()
                for svc in select_for_listener(candidates, listener, ns, collected.notes):
                    collected.add(svc)
                    own.add(svc)
                routes = [v for v in exported_vs if _binds_mesh(v) and listener.imports_virtual_service(v)]
                egress.append(ListenerView(listener, own.services, routes))
            for view in egress:  # collectImportedServices: destinations of imported routes come along
                for v in view.virtual_services:
                    for host, ports in virtual_service_destinations(v, ns).items():
                        picked = _pick_namespace(index.get(host, {}), ns, mesh)
                        if picked is not None:
                            port = view.listener.port if view.listener.matches_port else None
                            collected.add(_trim_to_port(picked, port) if port else _trim_to_ports(picked, ports))
        return cls(
            ns, dict(pod["metadata"].get("labels") or {}), gateway, mesh, root, choice, egress,
            collected.services, list(destination_rules), list(registry), collected.notes,
        )  # fmt: skip

    # -- what callers ask
    @property
    def _own_policy(self) -> Obj | None:
        if self.is_gateway or self.sidecar.sidecar is None:
            return None
        return self.sidecar.sidecar["spec"].get("outboundTrafficPolicy")

    @property
    def outbound_policy(self) -> str:
        """The Sidecar's outboundTrafficPolicy.mode, else the mesh's (initSidecarScopeInternalIndexes).
        An unset mode is the enum's zero value, REGISTRY_ONLY."""
        own = self._own_policy
        if own is not None:
            return own.get("mode") or "REGISTRY_ONLY"
        return (self.mesh.get("outboundTrafficPolicy") or {}).get("mode", "ALLOW_ANY")

    @property
    def outbound_policy_source(self) -> str:
        return f"Sidecar {self.sidecar.name}" if self._own_policy is not None else "mesh config"

    @property
    def virtual_services(self) -> list[Obj]:
        """Every VirtualService the proxy's listeners use (for a gateway: all exported to it)."""
        out: list[Obj] = []
        for view in self.egress:
            out += [v for v in view.virtual_services if not any(v is seen for seen in out)]
        return out

    def listener_for(self, port: int) -> ListenerView | None:
        """The egress listener whose routes serve ``port``: the first with that port, else the
        catch-all (GetEgressListenerForRDS; validation keeps the catch-all last)."""
        for view in self.egress:
            if view.listener.port is None or view.listener.port == port:
                return view
        return None

    def service(self, host: str) -> MeshService | None:
        """The proxy's entry (cluster) for a host: the exact name first, else the longest wildcard
        covering it. VirtualService destinations are included; see ``visible`` for direct requests."""
        return _find(self.services, host)

    def visible_service(self, host: str, port: int | None = None) -> MeshService | None:
        """The entry an app's request to ``host`` (on ``port``) matches, or None when the egress
        listener for that port does not import it (or the entry lacks the port)."""
        if port is None:
            return next((svc for view in self.egress if (svc := view.service(host)) is not None), None)
        view = self.listener_for(port)
        svc = view.service(host) if view is not None else None
        return svc if svc is not None and svc.port(port) is not None else None

    def visible(self, host: str, port: int | None = None) -> bool:
        """Whether an app's request to ``host`` (on ``port``, when given) is known to the proxy."""
        return self.visible_service(host, port) is not None

    def virtual_services_for(self, host: str, gateway: str = MESH_GATEWAY, port: int | None = None) -> list[Obj]:
        """Visible VirtualServices bound to ``gateway`` (``mesh`` or ``ns/name``) with a host covering
        ``host``; given ``port``, only those of the egress listener serving that port."""
        view = self.listener_for(port) if port is not None and not self.is_gateway else None
        out = []
        for vs in view.virtual_services if view is not None else self.virtual_services:
            ns = vs["metadata"]["namespace"]
            if gateway not in [_qualify(g, ns) for g in vs["spec"].get("gateways") or [MESH_GATEWAY]]:
                continue
            if any(subset_of(host, fqdn(h, ns)) for h in vs["spec"].get("hosts") or []):
                out.append(vs)
        return out

    def destination_rule(self, host: str) -> Obj | None:
        """The DestinationRule for a service host (push_context.go destinationRule): the proxy's own
        namespace, then the service's namespace, then the root namespace, each only with rules
        exported to the proxy's namespace; within one, the most specific host. Several rules for
        that host in one namespace are merged as istiod merges them."""
        found = self.destination_rules_for(host)
        return merge_destination_rules(found) if found else None

    @property
    def destination_rules(self) -> list[Obj]:
        """The DestinationRules this proxy uses: for each visible service, the rules
        destination_rules_for picks (SidecarScope.selectDestinationRules)."""
        out: list[Obj] = []
        for svc in self.services:
            out += [r for r in self.destination_rules_for(svc.hostname) if not any(r is seen for seen in out)]
        return out

    def destination_rules_for(self, host: str) -> list[Obj]:
        """The rules for ``host`` from the first namespace on the lookup path that has any, unmerged."""
        ns, root = self.namespace, self.root_namespace
        rules = sorted(
            self.all_destination_rules, key=lambda r: (r["spec"].get("workloadSelector") is None, _created(r))
        )
        rules = [r for r in rules if self._selects_me(r)]
        svc = self.service(host)
        tiers: list[list[Obj]] = []
        if ns != root:
            tiers.append([r for r in rules if r["metadata"]["namespace"] == ns and _dr_local(r)])
        else:
            tiers.append([r for r in rules if r["metadata"]["namespace"] == root and _dr_private_only(r, self.mesh)])
        if svc is not None:
            tiers.append(
                [r for r in rules if r["metadata"]["namespace"] == svc.namespace and _dr_exported_to(r, ns, self.mesh)]
            )
        tiers.append([r for r in rules if r["metadata"]["namespace"] == root and _dr_exported_to(r, ns, self.mesh)])
        for tier in tiers:
            found = _most_specific(svc.hostname if svc else host, tier)
            if found:
                # A rule whose workloadSelector picks this workload is used before ones without.
                selecting = [r for r in found if r["spec"].get("workloadSelector") is not None]
                return selecting or found
        return []

    def _selects_me(self, dr: Obj) -> bool:
        """A workloadSelector applies only to workloads in the rule's own namespace."""
        selector = dr["spec"].get("workloadSelector")
        if selector is None:
            return True
        return dr["metadata"]["namespace"] == self.namespace and selector_matches(
            selector.get("matchLabels") or {}, self.pod_labels
        )

    def why_hidden(self, host: str, port: int | None = None) -> str | None:
        """Why an app's request to ``host`` (on ``port``) is not known here, or None when it is."""
        if self.visible(host, port):
            return None
        svc = self.service(host)
        if svc is not None and port is not None and self.visible(host):
            return (
                f"{host}: port {port} is not imported for it (the egress listener for that port narrows {svc.source})"
            )
        if svc is not None:
            return (
                f"{host}: {svc.source} is only a VirtualService destination here; "
                f"Sidecar {self.sidecar.name} egress hosts do not import it for direct requests"
            )
        declared = [s for s in self.registry if s.hostname.lower() == host.lower() or subset_of(host, s.hostname)]
        if not declared:
            return f"{host}: no Service or ServiceEntry declares it"
        reasons = []
        for s in declared:
            if not service_exported(s, self.namespace, self.mesh):
                shown = (
                    ",".join(s.export_to) if s.export_to else f"mesh default {self.mesh.get('defaultServiceExportTo')}"
                )
                reasons.append(f"{s.source} is not exported to {self.namespace} (exportTo {shown})")
            else:
                reasons.append(
                    f"{s.source} is exported here but Sidecar {self.sidecar.name} egress hosts do not import it"
                )
        return f"{host}: " + "; ".join(reasons)

    def hidden_hosts(self) -> list[str]:
        """Registry hostnames this proxy does not see (exportTo, Sidecar hosts, or another entry won)."""
        return sorted({s.hostname for s in self.registry} - {s.hostname for s in self.services})

    def describe(self, host: str | None = None, port: int | None = None) -> list[str]:
        """Lines for an explanation: which Sidecar applied and why, the outbound policy and where it
        comes from, which entry won for a shared hostname, and (given ``host``) why it is hidden."""
        lines = [
            f"Sidecar: {self.sidecar.name} ({self.sidecar.reason})",
            f"outbound policy: {self.outbound_policy} (from {self.outbound_policy_source})",
        ]
        if self.sidecar.sidecar is not None and not self.is_gateway:
            for i, view in enumerate(self.egress):
                at = f" port {view.listener.port}" if view.listener.port else ""
                lines.append(f"egress[{i}]{at} hosts: {', '.join(view.listener.spec.get('hosts') or [])}")
        lines += self.notes
        if host is not None:
            svc = self.visible_service(host, port)
            lines.append(f"{host}: {svc.source} (visible here)" if svc else self.why_hidden(host, port) or host)
        return lines


def _find(services: list[MeshService], host: str) -> MeshService | None:
    """An entry for a host: the exact name first, else the longest wildcard covering it."""
    host = host.lower()
    exact = next((s for s in services if s.hostname.lower() == host), None)
    if exact is not None:
        return exact
    wild = [s for s in services if s.hostname.startswith("*") and subset_of(host, s.hostname)]
    return max(wild, key=lambda s: len(s.hostname), default=None)


def _refuse_unmodelled(choice: SidecarChoice) -> None:
    """Sidecar fields that change outbound traffic in ways not modelled here."""
    policy = (choice.sidecar or {}).get("spec", {}).get("outboundTrafficPolicy") or {}
    if policy.get("egressProxy"):
        raise ScopeError(
            f"Sidecar {choice.name}: spec.outboundTrafficPolicy.egressProxy is not modelled by the offline "
            "simulator; run this on a kind cluster"
        )


def _vs_group(vs: Obj, namespace: str, mesh: Mapping[str, Any]) -> int:
    values = set(vs["spec"].get("exportTo") or ()) or set(mesh.get("defaultVirtualServiceExportTo") or [ANY])
    if ANY in values and (vs["spec"].get("exportTo") or HERE not in values):
        return 2
    return 0 if vs["metadata"]["namespace"] == namespace else 1


def _binds_mesh(vs: Obj) -> bool:
    return MESH_GATEWAY in (vs["spec"].get("gateways") or [MESH_GATEWAY])


def _qualify(gateway: str, namespace: str) -> str:
    return gateway if gateway == MESH_GATEWAY or "/" in gateway else f"{namespace}/{gateway}"


def _pick_namespace(
    by_namespace: dict[str, MeshService], namespace: str, mesh: Mapping[str, Any]
) -> MeshService | None:
    """The proxy's own namespace, else the first visible namespace alphabetically (pickFirstVisibleNamespace)."""
    if namespace in by_namespace:
        return by_namespace[namespace]
    for ns in sorted(by_namespace):
        if service_exported(by_namespace[ns], namespace, mesh):
            return by_namespace[ns]
    return None
