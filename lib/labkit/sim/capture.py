"""What a pod's annotations and labels do before any proxy config matters: whether the injector adds
a sidecar, and which outbound connections the pod's iptables rules hand to it.

Injection follows istiod's webhook selectors (istio-discovery chart, mutatingwebhook.yaml) and its
injectRequired check (pkg/kube/inject/inject.go). Capture follows the ISTIO_OUTPUT chain that
istio-init (or istio-cni) writes from the pod's annotations (tools/istio-iptables capture/run.go),
rule by rule, in order. Values the injector's validation rejects are refused here by name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INJECT = "sidecar.istio.io/inject"  # a label (current) or an annotation (deprecated)
REVISION = "istio.io/rev"
NAMESPACE_INJECTION = "istio-injection"
DEFAULT_REVISION = "default"
INTERCEPTION_MODE = "sidecar.istio.io/interceptionMode"
INCLUDE_RANGES = "traffic.sidecar.istio.io/includeOutboundIPRanges"
EXCLUDE_RANGES = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
INCLUDE_PORTS = "traffic.sidecar.istio.io/includeOutboundPorts"
EXCLUDE_PORTS = "traffic.sidecar.istio.io/excludeOutboundPorts"
EXCLUDE_INTERFACES = "traffic.sidecar.istio.io/excludeInterfaces"
PROXY_UID = 1337  # istio-proxy runs as this uid; its own connections are never redirected
POD_INTERFACE = "eth0"
HOST_LOOPBACK = ipaddress.ip_network("127.0.0.1/32")  # istio-iptables' HostIPv4LoopbackCidr default
# The injector never injects into these (pkg/kube/inject/initializer.go IgnoredNamespaces).
IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})


class AnnotationError(ValueError):
    """An annotation value the sidecar injector rejects (pkg/kube/inject/validate.go)."""


@dataclass(frozen=True)
class Decision:
    yes: bool
    reason: str

    def __bool__(self) -> bool:
        return self.yes


# -- injection --------------------------------------------------------------------------------------


def injection(pod: Mapping[str, Any], namespace_labels: Mapping[str, str]) -> Decision:
    """Whether the sidecar injector adds istio-proxy to a new pod (the default revision installed,
    enableNamespacesByDefault off, injection policy enabled, as the labs install Istio)."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if any(c.get("name") == "istio-proxy" for c in (pod.get("spec") or {}).get("containers") or []):
        return Decision(False, "the pod brings its own istio-proxy (a gateway)")
    called = _webhook_called(labels, namespace_labels)
    if not called:
        return Decision(False, _why_not_called(labels, namespace_labels))
    if (pod.get("spec") or {}).get("hostNetwork"):
        return Decision(False, "hostNetwork pods are never injected")
    if meta.get("namespace") in IGNORED_NAMESPACES:
        return Decision(False, f"the injector skips the {meta.get('namespace')} namespace")
    # injectRequired: the label wins over the deprecated annotation; only "true" and "false" count.
    if INJECT in labels:
        value, where = labels[INJECT], "label"
    else:
        value, where = annotations.get(INJECT, ""), "annotation"
    if value == "false":
        return Decision(False, f"{where} {INJECT}=false")
    if value == "true":
        return Decision(True, f"{called}; {where} {INJECT}=true")
    return Decision(True, called)


def _webhook_called(labels: Mapping[str, str], ns: Mapping[str, str]) -> str:
    """Which of the default revision's four webhooks selects the pod ("" if none). Selectors see
    labels only, so an annotation can never make the webhook run."""
    not_disabled = labels.get(INJECT) != "false"
    ns_injection, ns_rev = ns.get(NAMESPACE_INJECTION), ns.get(REVISION)
    if ns_rev == DEFAULT_REVISION and ns_injection is None and not_disabled:
        return f"namespace label {REVISION}={DEFAULT_REVISION}"
    if ns_rev is None and ns_injection is None and not_disabled and labels.get(REVISION) == DEFAULT_REVISION:
        return f"pod label {REVISION}={DEFAULT_REVISION}"
    if ns_injection == "enabled" and not_disabled:
        return f"namespace label {NAMESPACE_INJECTION}=enabled"
    if ns_injection is None and ns_rev is None and labels.get(INJECT) == "true" and REVISION not in labels:
        return f"pod label {INJECT}=true"
    return ""


def _why_not_called(labels: Mapping[str, str], ns: Mapping[str, str]) -> str:
    if labels.get(INJECT) == "false":
        return f"pod label {INJECT}=false"
    if ns.get(NAMESPACE_INJECTION) == "disabled":
        return f"namespace label {NAMESPACE_INJECTION}=disabled"
    if ns.get(REVISION) not in (None, DEFAULT_REVISION) or labels.get(REVISION) not in (None, DEFAULT_REVISION):
        return f"no installed revision matches {REVISION} (only {DEFAULT_REVISION!r} is installed)"
    return (
        f"neither the namespace ({NAMESPACE_INJECTION}=enabled) nor the pod (label {INJECT}=true) asks for "
        "injection; an annotation alone does not call the injector"
    )


# -- outbound capture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureRules:
    """The pod's outbound iptables settings as istio-init receives them from the injector."""

    mode: str  # REDIRECT | TPROXY | NONE
    include_ranges: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None  # None: "*"
    exclude_ranges: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    include_ports: frozenset[int]
    exclude_ports: frozenset[int]
    exclude_interfaces: frozenset[str]

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> CaptureRules:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        mode = annotations.get(INTERCEPTION_MODE, "REDIRECT")
        if mode not in ("REDIRECT", "TPROXY", "NONE"):
            raise AnnotationError(f"{INTERCEPTION_MODE}={mode!r}: use REDIRECT, TPROXY or NONE")
        include = annotations.get(INCLUDE_RANGES, "*")  # the chart's global.proxy.includeIPRanges
        return cls(
            mode=mode,
            include_ranges=None if include == "*" else _cidrs(INCLUDE_RANGES, include),
            exclude_ranges=_cidrs(EXCLUDE_RANGES, annotations.get(EXCLUDE_RANGES, "")),
            include_ports=_ports(INCLUDE_PORTS, annotations.get(INCLUDE_PORTS, "")),
            exclude_ports=_ports(EXCLUDE_PORTS, annotations.get(EXCLUDE_PORTS, "")),
            exclude_interfaces=frozenset(
                i.strip() for i in annotations.get(EXCLUDE_INTERFACES, "").split(",") if i.strip()
            ),
        )

    @property
    def loopback_included(self) -> bool:
        """istio-iptables' HasLoopBackIP: an include range covers a loopback address."""
        return any(r.network_address.is_loopback for r in self.include_ranges or ())


def _cidrs(name: str, value: str) -> tuple[Any, ...]:
    """validateCIDRList: comma separated CIDRs, nothing else (Go's netip.ParsePrefix)."""
    if not value:
        return ()
    out = []
    for item in value.split(","):
        try:
            if "/" not in item or item != item.strip():
                raise ValueError("not in CIDR form")
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise AnnotationError(f"{name}={value!r}: {item!r} is not a CIDR range ({exc})") from None
    return tuple(out)


def _ports(name: str, value: str) -> frozenset[int]:
    """parsePorts: comma separated port numbers, spaces around each allowed."""
    out = set()
    for item in value.strip().split(",") if value.strip() else []:
        try:
            port = int(item.strip())
        except ValueError:
            raise AnnotationError(f"{name}={value!r}: {item!r} is not a port number") from None
        if not 0 <= port <= 65535:
            raise AnnotationError(f"{name}={value!r}: {port} is out of range")
        out.add(port)
    return frozenset(out)


def outbound_capture(pod: Mapping[str, Any], dst_ip: str, dst_port: int, uid: int = 0) -> Decision:
    """Whether a TCP connection from the pod to ``dst_ip:dst_port`` is redirected to its sidecar
    (True) or leaves the pod directly (False), with the rule that decided. ``uid``: the process
    that connects (0 for the app; 1337 is the proxy itself). Call only for pods with a sidecar."""
    rules = CaptureRules.of(pod)
    address = ipaddress.ip_address(dst_ip)
    pod_ip = ((pod.get("status") or {}).get("podIP")) or ""
    via_loopback = address.is_loopback or dst_ip == pod_ip  # the kernel routes both over lo
    if rules.mode == "NONE":
        return Decision(False, f"{INTERCEPTION_MODE}=NONE: no iptables rules, nothing is redirected")
    if not via_loopback and POD_INTERFACE in rules.exclude_interfaces:
        return Decision(False, f"{EXCLUDE_INTERFACES} lists {POD_INTERFACE}: its traffic skips the sidecar")
    if dst_port in rules.exclude_ports:
        return Decision(False, f"port {dst_port} is in {EXCLUDE_PORTS}: the sidecar is bypassed")
    if uid == PROXY_UID:
        return Decision(False, f"uid {PROXY_UID} is the proxy itself: never sent to the outbound listener")
    if via_loopback and not rules.loopback_included:
        return Decision(False, f"{dst_ip} goes over the loopback interface, which is not redirected")
    if address in HOST_LOOPBACK:
        return Decision(False, f"{dst_ip} is the host loopback address, which is not redirected")
    excluded = next((r for r in rules.exclude_ranges if address in r), None)
    if excluded is not None:
        return Decision(False, f"{dst_ip} is in {EXCLUDE_RANGES} ({excluded}): the sidecar is bypassed")
    if dst_port in rules.include_ports:
        return Decision(True, f"port {dst_port} is in {INCLUDE_PORTS}: iptables redirects it to the sidecar")
    if rules.include_ranges is None:
        return Decision(True, f"iptables redirects {dst_ip} to the sidecar (all outbound traffic is captured)")
    included = next((r for r in rules.include_ranges if address in r), None)
    if included is not None:
        return Decision(True, f"{dst_ip} is in {INCLUDE_RANGES} ({included}): iptables redirects it to the sidecar")
    shown = ",".join(str(r) for r in rules.include_ranges) or "empty"
    return Decision(False, f"{dst_ip} is outside {INCLUDE_RANGES} ({shown}): the sidecar is bypassed")
