"""The envoy backend: the simulator's control plane, a real data plane behind it.

Pure parts first (no root): the refusal without root, istio-init settings from annotations, the
NetworkPolicy rules, volume paths. Then one live backend (root, iptables, Envoy): pods follow the
Deployments, commands are real, a NetworkPolicy really drops, and closing removes everything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from rich.console import Console

import labkit
from labkit.envoy import netns, preflight
from labkit.envoy import netpol as rules
from labkit.envoy.sync import SyncError, capture_of
from labkit.envoy.volumes import rewrite
from labkit.errors import BackendUnavailable, LabkitError
from labkit.lab import Lab
from labkit.sim.netpol import Peer

QUIET = Console(quiet=True)


def test_connect_refuses_without_root_and_creates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 11, "Safety and cleanup": without root the backend refuses, names the fix, changes nothing.
    before = set(netns.names())
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    with pytest.raises(BackendUnavailable, match="nothing was changed"):
        labkit.connect(backend="envoy", lab="t", cleanup_on_error=False, console=QUIET)
    assert set(netns.names()) == before


def _pod(annotations: dict[str, str]) -> dict:
    return {"metadata": {"name": "p", "namespace": "default", "annotations": annotations}}


def test_capture_settings_come_from_istio_s_annotations() -> None:
    # Istio's annotation reference: traffic.sidecar.istio.io/includeOutboundIPRanges limits capture to
    # those ranges; excludeInboundPorts adds to the ports the injector always excludes (15090,15021,15020).
    cfg = capture_of(
        _pod(
            {
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/16",
                "traffic.sidecar.istio.io/excludeInboundPorts": "8080",
            }
        )
    )
    assert cfg.include_outbound_ip_ranges == "10.96.0.0/16"
    assert cfg.exclude_inbound_ports == "8080,15090,15021,15020"


def test_a_capture_annotation_it_does_not_build_is_refused_by_name() -> None:
    with pytest.raises(SyncError, match=re.escape("traffic.sidecar.istio.io/excludeInterfaces")):
        capture_of(_pod({"traffic.sidecar.istio.io/excludeInterfaces": "eth1"}))


LAB04_POLICY = {
    # labs/04-network-policy/networkpolicy.yaml's egress rule for the Istio namespace.
    "metadata": {"name": "allow-istio", "namespace": "test-egress"},
    "spec": {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"istio": "system"}}}]}],
    },
}


def test_egress_policy_allows_the_selected_namespace_and_drops_the_rest() -> None:
    # Kubernetes NetworkPolicy docs: a pod selected by an Egress policy may only open the connections
    # some rule allows; here pods in namespaces labelled istio=system, on any port.
    client = Peer("10.244.0.20", "test-egress", {"app": "sleep"}, {})
    gateway = Peer("10.244.0.12", "istio-system", {"istio": "egressgateway"}, {"istio": "system"})
    world = Peer("203.0.113.30")
    text = rules.filter_table([LAB04_POLICY], client, [rules.Target(gateway, (8443,)), rules.Target(world, (443,))])
    assert text is not None
    assert "-A OUTPUT -d 10.244.0.12/32 -p tcp -m tcp --dport 8443 -j ACCEPT" in text
    assert "203.0.113.30" not in text
    assert text.splitlines()[-2:] == ["-A OUTPUT -j DROP", "COMMIT"]
    # The same policy does not select a pod of another namespace: no rules for it.
    other = Peer("10.244.0.21", "default", {"app": "sleep"}, {})
    assert rules.filter_table([LAB04_POLICY], other, [rules.Target(world, (443,))]) is None


def test_paths_under_a_mount_point_move_into_the_volume_directory(tmp_path) -> None:
    mounts = {"/etc/certs": tmp_path}
    assert rewrite("/etc/certs/ca.crt", mounts) == f"{tmp_path}/ca.crt"
    assert rewrite("/etc/certs-other/ca.crt", mounts) == "/etc/certs-other/ca.crt"
    assert rewrite("https://example.com/etc/certs", mounts) == "https://example.com/etc/certs"


def listener_names(dump: dict) -> set[str]:
    return {x["name"] for x in dump.get("dynamic_listeners", [])}


def test_proxy_config_on_the_simulator_is_the_translation() -> None:
    # Istio 1.27 pilot/pkg/model/sidecar.go: every sidecar has virtualOutbound on 15001; with the default
    # ALLOW_ANY its config has the PassthroughCluster (cluster_builder.go buildDefaultPassthroughCluster).
    sim = labkit.connect(backend="sim", lab="t", cleanup_on_error=False, console=QUIET)
    sim.deploy_client()
    dump = sim.proxy_config("listeners")
    assert dump["@type"] == "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
    assert "virtualOutbound" in listener_names(dump)
    clusters = {c["cluster"]["name"] for c in sim.proxy_config("clusters")["dynamic_active_clusters"]}
    assert "PassthroughCluster" in clusters
    with pytest.raises(LabkitError, match="choose one of"):
        sim.proxy_config("endpoints")


def test_proxy_config_is_refused_where_it_is_not_built() -> None:
    from labkit.xds.shown import shown_config

    class Cluster:
        name = "kube"

    with pytest.raises(LabkitError, match=re.escape("istioctl proxy-config listeners sleep-1.default")):
        shown_config(Cluster(), "listeners", "default", "sleep-1")


def test_a_volume_kind_it_does_not_write_is_refused_by_name() -> None:
    # Kubernetes has many volume kinds; this backend writes Secret and ConfigMap volumes only, and names
    # the one it would otherwise leave empty.
    from labkit.envoy.volumes import VolumeNotBuilt, check

    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [{"name": "web", "volumeMounts": [{"name": "scratch", "mountPath": "/data"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    }
    with pytest.raises(VolumeNotBuilt, match=re.escape("volume scratch (emptyDir)")):
        check(pod, "web")


# -- live ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    report = preflight.run()
    if not report.ok:
        reason = "; ".join(f"{c.name}: {c.detail}" for c in report.failures())
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the envoy backend tests, but: {reason}")
        pytest.skip(f"the envoy backend cannot run here: {reason}")
    lab = labkit.connect(backend="envoy", lab="test", cleanup_on_error=False, console=QUIET)
    try:
        yield lab
    finally:
        lab.driver.close()  # type: ignore[attr-defined]


def real_pods(lab: Lab) -> set[str]:
    lab.driver.sync.run()  # type: ignore[attr-defined]  # what any command would find: the data plane caught up
    return set(lab.driver.plane.pods)  # type: ignore[attr-defined]


def test_it_says_what_is_real(lab: Lab) -> None:
    # Issue 11, "Banner": the exact wording of what is real.
    assert lab.driver.describe() == "real Envoy 1.40 data plane and real curl; control plane modelled by labkit"
    assert lab.backend == "envoy" and not lab.simulated


def test_pods_follow_the_deployments_and_commands_are_real(lab: Lab) -> None:
    pod = lab.deploy_client(name="probe")
    assert f"default/{pod}" in real_pods(lab)
    # POSIX sh: $HOSTNAME from the environment, the exit status of `exit 3` is the command's.
    r = lab.driver.exec("default", pod, "probe", ["sh", "-c", 'echo "$HOSTNAME"; exit 3'], 10)
    assert (r.stdout.strip(), r.exit_code) == (pod, 3)
    lab.cleanup()
    assert f"default/{pod}" not in real_pods(lab)


def test_a_network_policy_really_drops(lab: Lab) -> None:
    # Kubernetes NetworkPolicy docs, "Default deny all egress traffic": nothing leaves the selected pods.
    # curl's man page: --connect-timeout expiring is exit 28 (operation timeout), with no response.
    lab.apply(labkit.lab_file("common", "namespace.yaml"), name="deny")
    lab.deploy_client(namespace="deny")
    before = lab.curl("http://httpbin.org/get", "-sS", "-o", "/dev/null", "--connect-timeout", "2", namespace="deny")
    assert before.exit_code == 0
    lab.apply(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress}\n"
        "spec: {podSelector: {}, policyTypes: [Egress]}\n",
        namespace="deny",
    )
    after = lab.curl("http://httpbin.org/get", "-sS", "-o", "/dev/null", "--connect-timeout", "2", namespace="deny")
    assert (after.exit_code, after.status) == (28, None)
    lab.cleanup()


def test_a_change_is_in_envoy_before_the_next_command(lab: Lab) -> None:
    # istio.io "Accessing External Services": under REGISTRY_ONLY the sidecar answers 502 for an unknown
    # HTTP host, and 200 once a ServiceEntry registers it. The envoy backend pushes a change when it is
    # stored and a command waits for Envoy's own acceptance (Envoy's statistics reference:
    # listener_manager.lds.version_text / cluster_manager.cds.version_text, the version of the last accepted
    # update), so the very first request after each write already meets the new config.
    lab.deploy_client(name="first")
    lab.set_outbound_policy("REGISTRY_ONLY")
    blocked = lab.curl("http://httpbin.org/get", "-sS", "-o", "/dev/null", "-w", "%{http_code}", client="first")
    lab.apply(labkit.lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    allowed = lab.curl("http://httpbin.org/get", "-sS", "-o", "/dev/null", "-w", "%{http_code}", client="first")
    assert (blocked.stdout, allowed.stdout) == ("502", "200")
    lab.cleanup()


def test_proxy_config_on_envoy_is_what_the_real_proxy_holds(lab: Lab) -> None:
    # Envoy's admin API, /config_dump: the listeners Envoy runs. They are the translation's listeners, so
    # the same names as on the simulator for the same mesh (labkit.xds is what both show).
    lab.deploy_client()
    lab.apply(labkit.lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    real = lab.proxy_config("listeners")  # no push delay on envoy: the config dump waits for Envoy's ACK
    sim = labkit.connect(backend="sim", lab="t", cleanup_on_error=False, console=QUIET)
    sim.deploy_client()
    sim.apply(labkit.lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    sim.driver.sleep(1.5)
    assert listener_names(real) == listener_names(sim.proxy_config("listeners"))
    gateway = lab.proxy_config("clusters", pod="istio=egressgateway", namespace="istio-system")
    assert "BlackHoleCluster" in {c["cluster"]["name"] for c in gateway["dynamic_active_clusters"]}
    lab.cleanup()


def test_explain_names_the_real_hops(lab: Lab) -> None:
    # istio.io egress-gateway task: the sidecar sends edition.cnn.com:80 to the gateway's subset cluster,
    # and the gateway's access log shows outbound|80||edition.cnn.com; explain() reads those real lines.
    lab.deploy_client()
    gw = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
    for f in (
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http.yaml",
    ):
        lab.apply(labkit.lab_file("03-egress-gateway", f), **gw)
    explained = lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null").explain()
    assert not explained.simulated
    (trace,) = explained.traces
    sidecar, gateway = trace.hops
    assert "sidecar of default/" in sidecar.where and "egress gateway of istio-system/" in gateway.where
    steps = {s.what: s.detail for s in gateway.steps}
    assert steps["cluster"] == "outbound|80||edition.cnn.com" and steps["listener"] == "0.0.0.0_8080"
    assert {s.what: s.detail for s in sidecar.steps}["cluster"] == (
        "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local"
    )
    # x-envoy-peer-metadata(-id) come from Istio's metadata-exchange filter (istio/proxy's peer_metadata
    # extension), which Envoy's own extension list does not have: explain() names it for an HTTP request.
    assert "istio.metadata_exchange" in {s.what: s.detail for s in sidecar.steps}["not built"]
    lab.cleanup()


def test_a_change_it_cannot_build_is_refused_and_changes_nothing(lab: Lab) -> None:
    # meshConfig.accessLogFormat is Istio config (Istio's MeshConfig reference) that labkit's translator
    # does not build: the envoy backend refuses it by name and leaves the ConfigMap as it was.
    import yaml

    from labkit.manifests import Ref
    from labkit.xds import TranslationError

    ref = Ref("v1", "ConfigMap", "istio-system", "istio")
    before = lab.driver.get(ref)
    assert before is not None
    mesh = {**(yaml.safe_load(before["data"]["mesh"]) or {}), "accessLogFormat": "%START_TIME%\n"}
    with pytest.raises(TranslationError, match=re.escape("meshConfig.accessLogFormat")):
        lab.driver.patch(ref, {"data": {"mesh": yaml.safe_dump(mesh)}})
    after = lab.driver.get(ref)
    assert after is not None and after["data"] == before["data"]


def test_closing_removes_every_namespace(lab: Lab) -> None:
    run_id = lab.driver.plane.run_id  # type: ignore[attr-defined]
    assert [ns for ns in netns.names() if ns.startswith(f"lk-{run_id}-")]
    lab.driver.close()  # type: ignore[attr-defined]
    assert [ns for ns in netns.names() if ns.startswith(f"lk-{run_id}-")] == []
