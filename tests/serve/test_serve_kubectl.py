"""The tutorial's kubectl commands against ``labkit serve``, with the real kubectl.

Runs every kubectl found: ``$KUBECTL``, ``kubectl`` on PATH, ``/usr/bin/kubectl`` (kubectl >= 1.30
execs over websockets, older ones such as Debian's kubernetes-client over SPDY). Without kubectl the
tests skip, except under ``CI=true``, where .ci/run must have installed one: there it is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from labkit import manifests
from labkit.manifests import Ref
from labkit.paths import lab_file
from labkit.serve import ApiServer

from .conftest import SERVICE_ENTRY

Kubectl = Callable[..., subprocess.CompletedProcess]


def _binaries() -> list[str]:
    found: dict[str, str] = {}
    for candidate in (os.environ.get("KUBECTL"), shutil.which("kubectl"), "/usr/bin/kubectl"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


@pytest.fixture(params=_binaries() or [None])
def kubectl(request: pytest.FixtureRequest, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = request.param
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no kubectl: under CI it is required (.ci/run installs Debian's kubernetes-client)")
        pytest.skip("no kubectl on this machine")
    home = tmp_path / "home"  # kubectl's discovery cache goes here, not into the user's ~/.kube
    home.mkdir()

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
        return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    return run


def deploy_sleep(kubectl: Kubectl) -> str:
    text = yaml.safe_dump_all(manifests.load(lab_file("common", "sleep.yaml"), {"name": "sleep"}))
    applied = kubectl("apply", "-f", "-", stdin=text)
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/sleep created" in applied.stdout
    found = kubectl("get", "pods", "-l", "app=sleep", "-o", "jsonpath={.items..metadata.name}")
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def until_exit(kubectl: Kubectl, args: list[str], code: int, attempts: int = 20) -> subprocess.CompletedProcess:
    """Run ``kubectl args`` until it exits ``code`` (config takes a moment to reach the proxies)."""
    for _ in range(attempts):
        result = kubectl(*args)
        if result.returncode == code:
            return result
        time.sleep(0.5)
    return result


def test_get_pods_by_label_prints_the_pod_name(kubectl: Kubectl, server: ApiServer) -> None:
    name = deploy_sleep(kubectl)
    served = server.sim.list_objects("v1", "Pod", "default", "app=sleep")
    assert name == served[0]["metadata"]["name"]
    table = kubectl("get", "pods", "-l", "app=sleep")
    assert table.returncode == 0 and name in table.stdout and "2/2" in table.stdout and "Running" in table.stdout


def test_exec_curl_exits_with_curls_code_as_a_service_entry_comes_and_goes(kubectl: Kubectl, server: ApiServer) -> None:
    pod = deploy_sleep(kubectl)
    mesh = kubectl("get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}").stdout
    assert "mode: ALLOW_ANY" in mesh
    patch = json.dumps({"data": {"mesh": mesh.replace("mode: ALLOW_ANY", "mode: REGISTRY_ONLY")}})
    assert kubectl("patch", "configmap", "istio", "-n", "istio-system", "--type", "merge", "-p", patch).returncode == 0

    curl = ["exec", pod, "-c", "sleep", "--", "curl", "-sI", "https://www.baidu.com"]
    blocked = until_exit(kubectl, curl, 35)
    assert blocked.returncode == 35, blocked.stderr  # curl's own exit code: TLS reset by the sidecar
    assert blocked.stdout == ""

    applied = kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(SERVICE_ENTRY))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == "serviceentry.networking.istio.io/baidu serverside-applied"
    allowed = until_exit(kubectl, curl, 0)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("HTTP/1.1 200 OK")

    deleted = kubectl("delete", "serviceentry", "baidu")
    assert deleted.returncode == 0, deleted.stderr
    assert 'serviceentry.networking.istio.io "baidu" deleted' in deleted.stdout
    assert until_exit(kubectl, curl, 35).returncode == 35
    upgrades = {r.upgrade for r in server.requests if "/exec?" in r.path}
    assert upgrades and upgrades <= {"websocket", "SPDY/3.1"}


def test_kubectl_sends_the_kubeconfigs_token_over_tls_and_is_served(kubectl: Kubectl, server: ApiServer) -> None:
    # client-go's clientcmd reads a kubeconfig's credentials for TLS servers only (client_config.go,
    # "only try to read the auth information if we are secure"): over https the token is sent.
    listed = kubectl("get", "namespaces", "-o", "name")
    assert listed.returncode == 0 and "namespace/istio-system" in listed.stdout.split()
    assert server.requests and all(r.credentials for r in server.requests)


def test_label_namespace_sets_and_removes_a_label(kubectl: Kubectl, server: ApiServer) -> None:
    labelled = kubectl("label", "namespace", "default", "lab=egress")
    assert labelled.returncode == 0, labelled.stderr
    assert labelled.stdout.strip() == "namespace/default labeled"
    assert server.sim.mesh.cluster.namespace_labels("default")["lab"] == "egress"
    assert kubectl("label", "namespace", "default", "lab-").returncode == 0
    assert "lab" not in server.sim.mesh.cluster.namespace_labels("default")


def test_an_invalid_object_is_refused_with_the_field_named(kubectl: Kubectl) -> None:
    broken = {**SERVICE_ENTRY, "spec": {**SERVICE_ENTRY["spec"], "resolution": "SOMETIMES"}}
    refused = kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(broken))
    assert refused.returncode != 0
    # kubectl words it from the Status's details and causes, as for a real API server.
    assert refused.stderr.startswith('The ServiceEntry "baidu" is invalid: spec.resolution: must be one of ')


def test_create_namespace_secret_and_configmap_as_the_tutorials_do(
    kubectl: Kubectl, server: ApiServer, tmp_path: Path
) -> None:
    # kubectl >= 1.2x sends these as protobuf; older ones as JSON. Both must work.
    cert = tmp_path / "tls.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    assert kubectl("create", "namespace", "test-egress").stdout.strip() == "namespace/test-egress created"
    made = kubectl(
        "create", "-n", "istio-system", "secret", "generic", "client-credential", f"--from-file=tls.crt={cert}"
    )
    assert made.returncode == 0, made.stderr
    made = kubectl("create", "configmap", "nginx-configmap", f"--from-file=nginx.conf={cert}")
    assert made.returncode == 0, made.stderr
    secret = server.sim.get(Ref("v1", "Secret", "istio-system", "client-credential"))
    assert secret is not None and base64.b64decode(secret["data"]["tls.crt"]) == cert.read_bytes()
    assert (
        server.sim.get(Ref("v1", "ConfigMap", "default", "nginx-configmap"))["data"]["nginx.conf"] == cert.read_text()
    )
    assert server.sim.mesh.cluster.namespace_labels("test-egress") == {"kubernetes.io/metadata.name": "test-egress"}


def test_kubectl_answers_within_a_second_during_a_big_upload_and_a_stalled_reader(
    kubectl: Kubectl, server: ApiServer
) -> None:
    # The bar: with one client uploading 100 MB and another not reading a large answer,
    # `kubectl get ns` still answers within 1 s.
    from .test_serve_hardening import CONFIGMAPS, config_map, head, tls_socket

    assert kubectl("get", "ns").returncode == 0  # discovery is cached from here on, as in a user's shell
    big = "y" * (900 * 1024)
    for i in range(12):  # a ConfigMap list of about 11 MB: more than the socket buffers hold
        created = kubectl("create", "-f", "-", stdin=json.dumps(config_map(f"big-{i}", {"blob": big})))
        assert created.returncode == 0, created.stderr
    stop = threading.Event()

    def upload() -> None:
        with tls_socket(server) as sock:
            sock.sendall(
                head(server, "POST", CONFIGMAPS, "Content-Type: application/json", "Content-Length: 104857600")
            )
            block = b"z" * 65536
            try:
                for _ in range(1600):  # 100 MB, unless the server hangs up first (it should)
                    if stop.is_set():
                        break
                    sock.sendall(block)
            except OSError:
                pass

    uploader = threading.Thread(target=upload, daemon=True)
    with tls_socket(server) as stalled:
        stalled.sendall(head(server, "GET", CONFIGMAPS))  # never read
        uploader.start()
        try:
            for _ in range(3):
                start = time.monotonic()
                listed = kubectl("get", "ns")
                took = time.monotonic() - start
                assert listed.returncode == 0, listed.stderr
                assert took < 1, f"kubectl get ns took {took:.2f}s"
        finally:
            stop.set()
            uploader.join(timeout=10)


def test_pilot_agent_config_dump_answers_in_envoys_admin_format(kubectl: Kubectl, server: ApiServer) -> None:
    # istio.io, Debugging Envoy and Istiod: `kubectl exec $POD -c istio-proxy -- pilot-agent request GET
    # config_dump` returns Envoy's admin config dump (envoy.admin.v3.ConfigDump: one entry per section),
    # which istioctl proxy-config reads; a sidecar has the virtualOutbound listener on 15001.
    pod = deploy_sleep(kubectl)
    dump = kubectl("exec", pod, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET", "config_dump")
    assert dump.returncode == 0, dump.stderr
    configs = json.loads(dump.stdout)["configs"]
    types = [c["@type"].rsplit(".", 1)[-1] for c in configs]
    assert types == ["ListenersConfigDump", "RoutesConfigDump", "ClustersConfigDump", "SecretsConfigDump"]
    listeners = {item["name"] for item in configs[0]["dynamic_listeners"]}
    assert "virtualOutbound" in listeners
    clusters = {item["cluster"]["name"] for item in configs[2]["dynamic_active_clusters"]}
    assert {"PassthroughCluster", "BlackHoleCluster"} <= clusters


def test_endpoints_for_a_service_without_selector_are_served(kubectl: Kubectl) -> None:
    # Kubernetes "Services without selectors": the Endpoints object named like the Service lists its
    # addresses; istio.io's egress-kubernetes-services task creates one with kubectl apply.
    docs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-api", "namespace": "default"},
         "spec": {"ports": [{"name": "https", "port": 443}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "my-api", "namespace": "default"},
         "subsets": [{"addresses": [{"ip": "203.0.113.50"}], "ports": [{"name": "https", "port": 443}]}]},
    ]  # fmt: skip
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    assert applied.returncode == 0, applied.stderr
    shown = kubectl("get", "endpoints", "my-api", "-o", "jsonpath={.subsets[0].addresses[0].ip}")
    assert (shown.returncode, shown.stdout) == (0, "203.0.113.50"), shown.stderr
