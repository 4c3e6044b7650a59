"""Sidecar injection and outbound traffic capture, from a pod's labels and annotations.

Sources cited below:
- INJECTION: https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy
  (the namespace label, the pod label, "if either label is disabled ... not injected", the webhook runs
  on namespace/object selectors, istio.io/rev)
- LABELS: https://istio.io/latest/docs/reference/config/labels/#SidecarInject
- ANNOTATIONS: https://istio.io/latest/docs/reference/config/annotations/ (sidecar.istio.io/inject is
  deprecated in favour of the label; traffic.sidecar.istio.io/includeOutboundIPRanges,
  excludeOutboundIPRanges, includeOutboundPorts, excludeOutboundPorts, excludeInterfaces;
  sidecar.istio.io/interceptionMode)
- BYPASS: https://istio.io/latest/docs/tasks/traffic-management/egress/egress-control/#direct-access-to-external-services
- ISTIO-IPTABLES: istio/istio 1.27.1 tools/istio-iptables/pkg/capture/run.go (the ISTIO_OUTPUT rule order:
  excluded ports, uid 1337, loopback, 127.0.0.1/32, excluded ranges, included ports, included ranges)
- INJECT-GO: istio/istio 1.27.1 pkg/kube/inject/inject.go injectRequired and validate.go; the webhook
  selectors in manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml
"""

from __future__ import annotations

from typing import Any

import pytest

from labkit.lab import Lab
from labkit.sim.capture import AnnotationError, injection, outbound_capture

POD_IP = "10.244.0.12"
EXTERNAL = "93.184.216.34"
SERVICE_IP = "10.96.0.20"


def pod(annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None, ns: str = "default") -> dict:
    obj: dict[str, Any] = {
        "metadata": {"namespace": ns, "name": "sleep", "labels": labels or {"app": "sleep"}},
        "spec": {"containers": [{"name": "sleep"}]},
        "status": {"podIP": POD_IP},
    }
    if annotations is not None:
        obj["metadata"]["annotations"] = annotations
    return obj


# -- injection --------------------------------------------------------------------------------------

ENABLED = {"istio-injection": "enabled"}


def test_namespace_label_injects_and_pod_label_false_opts_out() -> None:
    # INJECTION: istio-injection=enabled injects; the pod label sidecar.istio.io/inject=false disables it.
    assert injection(pod(), ENABLED)
    assert not injection(pod(labels={"sidecar.istio.io/inject": "false"}), ENABLED)


def test_annotation_false_still_opts_out_in_an_enabled_namespace() -> None:
    # ANNOTATIONS sidecar.istio.io/inject (deprecated, still read): INJECT-GO injectRequired reads the
    # annotation when no label is set; "false" means no sidecar.
    decision = injection(pod(annotations={"sidecar.istio.io/inject": "false"}), ENABLED)
    assert not decision and "annotation" in decision.reason


def test_label_wins_over_annotation() -> None:
    # INJECT-GO injectRequired: "The label is the new API; if both are present we prefer the label".
    both = pod(annotations={"sidecar.istio.io/inject": "false"}, labels={"sidecar.istio.io/inject": "true"})
    assert injection(both, ENABLED)


def test_annotation_alone_does_not_opt_into_an_unlabelled_namespace() -> None:
    # INJECTION: the webhook only runs for pods its selectors match, and selectors see labels only;
    # the pod label sidecar.istio.io/inject=true opts a pod in, the annotation does not.
    decision = injection(pod(annotations={"sidecar.istio.io/inject": "true"}), {})
    assert not decision and "annotation alone" in decision.reason
    assert injection(pod(labels={"sidecar.istio.io/inject": "true"}), {})


def test_disabled_namespace_wins_over_a_pod_label() -> None:
    # INJECTION: if either label is disabled, the pod is not injected.
    assert not injection(pod(labels={"sidecar.istio.io/inject": "true"}), {"istio-injection": "disabled"})


def test_revision_label_injects_only_for_an_installed_revision() -> None:
    # INJECTION: istio.io/rev selects a control plane revision; the labs install the default one
    # (INJECT-GO mutatingwebhook.yaml: rev.namespace matches istio.io/rev=default).
    assert injection(pod(), {"istio.io/rev": "default"})
    assert not injection(pod(), {"istio.io/rev": "canary"})


def test_kube_system_and_host_network_are_never_injected() -> None:
    # INJECT-GO injectRequired: hostNetwork pods and the ignored system namespaces are skipped.
    assert not injection(pod(ns="kube-system"), ENABLED)
    host = pod()
    host["spec"]["hostNetwork"] = True
    assert not injection(host, ENABLED)


def test_sim_pod_with_inject_annotation_false_has_no_sidecar(lab: Lab) -> None:
    # INJECTION / ANNOTATIONS as above, through the simulated API server's admission.
    lab.deploy_client(name="plain", pod_annotations={"sidecar.istio.io/inject": "false"})
    assert lab.containers(name="plain") == ["plain"]
    assert lab.containers() == ["sleep", "istio-proxy"]


# -- capture ----------------------------------------------------------------------------------------


def test_everything_is_captured_by_default() -> None:
    # ANNOTATIONS includeOutboundIPRanges: '*' redirects all outbound traffic (the injector's default).
    assert outbound_capture(pod(), EXTERNAL, 443)


def test_include_ranges_limit_capture() -> None:
    # BYPASS: with includeOutboundIPRanges set to the cluster's ranges, external IPs skip the sidecar.
    p = pod({"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12,10.244.0.0/16"})
    assert outbound_capture(p, SERVICE_IP, 80)
    decision = outbound_capture(p, EXTERNAL, 80)
    assert not decision and "outside" in decision.reason


def test_empty_include_ranges_disable_outbound_capture() -> None:
    # ANNOTATIONS includeOutboundIPRanges: "An empty list will disable all outbound redirection."
    assert not outbound_capture(pod({"traffic.sidecar.istio.io/includeOutboundIPRanges": ""}), SERVICE_IP, 80)


def test_exclude_ranges_win_over_include() -> None:
    # ANNOTATIONS excludeOutboundIPRanges: IP ranges excluded from redirection; ISTIO-IPTABLES applies
    # exclusions before inclusions.
    p = pod({"traffic.sidecar.istio.io/excludeOutboundIPRanges": "93.184.216.0/24"})
    decision = outbound_capture(p, EXTERNAL, 443)
    assert not decision and "excludeOutboundIPRanges" in decision.reason
    assert outbound_capture(p, "93.184.217.1", 443)


def test_exclude_outbound_ports() -> None:
    # ANNOTATIONS excludeOutboundPorts: outbound ports excluded from redirection to Envoy.
    p = pod({"traffic.sidecar.istio.io/excludeOutboundPorts": "443, 8443"})
    assert not outbound_capture(p, EXTERNAL, 443)
    assert not outbound_capture(p, SERVICE_IP, 8443)
    assert outbound_capture(p, EXTERNAL, 80)


def test_include_outbound_ports_capture_regardless_of_ip() -> None:
    # ANNOTATIONS includeOutboundPorts: redirected to Envoy "regardless of the destination IP";
    # ISTIO-IPTABLES still applies excluded ranges first.
    p = pod(
        {
            "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
            "traffic.sidecar.istio.io/includeOutboundPorts": "80",
            "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.0/12",
        }
    )
    assert outbound_capture(p, EXTERNAL, 80)
    assert not outbound_capture(p, EXTERNAL, 443)
    assert not outbound_capture(p, SERVICE_IP, 80)


def test_excluded_port_beats_included_port() -> None:
    # ISTIO-IPTABLES: the excludeOutboundPorts RETURN rules come first in ISTIO_OUTPUT.
    p = pod(
        {"traffic.sidecar.istio.io/includeOutboundPorts": "80", "traffic.sidecar.istio.io/excludeOutboundPorts": "80"}
    )
    assert not outbound_capture(p, EXTERNAL, 80)


def test_proxy_uid_and_loopback_are_never_captured() -> None:
    # ISTIO-IPTABLES: "-m owner --uid-owner 1337 -j RETURN" (no loops through Envoy), and traffic over
    # lo from the app (localhost or the pod's own IP) returns unless an include range covers loopback.
    assert not outbound_capture(pod(), EXTERNAL, 80, uid=1337)
    assert not outbound_capture(pod(), "127.0.0.1", 8080)
    assert not outbound_capture(pod(), POD_IP, 8080)


def test_interception_mode_none_and_excluded_interface() -> None:
    # ANNOTATIONS sidecar.istio.io/interceptionMode NONE: no istio-init, so no redirection;
    # traffic.sidecar.istio.io/excludeInterfaces: interfaces excluded from redirection.
    assert not outbound_capture(pod({"sidecar.istio.io/interceptionMode": "NONE"}), EXTERNAL, 80)
    assert not outbound_capture(pod({"traffic.sidecar.istio.io/excludeInterfaces": "eth0"}), EXTERNAL, 80)
    assert outbound_capture(pod({"traffic.sidecar.istio.io/excludeInterfaces": "eth1"}), EXTERNAL, 80)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.1"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.0/8, 10.1.0.0/16"),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "https"),
        ("sidecar.istio.io/interceptionMode", "EBPF"),
    ],
)
def test_values_the_injector_rejects_are_refused_by_name(name: str, value: str) -> None:
    # INJECT-GO validate.go: CIDR lists parse with netip.ParsePrefix ("*" only for the include list),
    # ports as numbers, interception mode REDIRECT, TPROXY or NONE.
    with pytest.raises(AnnotationError, match=name.replace(".", r"\.")):
        outbound_capture(pod({name: value}), EXTERNAL, 80)
