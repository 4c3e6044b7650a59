"""labkit's kube backend over the wire, against ``labkit serve``: the upstream client pitfalls it must survive.

Each regression test names the pitfall of the ``kubernetes`` client (or websocket-client under it)
that the wire exposed or that the backend's design works around.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from labkit.errors import LabkitError
from labkit.kube import KubeBackend
from labkit.kube.apierror import is_not_found, message_of, status_of
from labkit.lab import Lab
from labkit.manifests import Ref
from labkit.serve import ApiServer
from labkit.sim import SimBackend

from .conftest import SERVICE_ENTRY


@pytest.fixture
def backend(kubeconfig: Path) -> Iterator[KubeBackend]:
    driver = KubeBackend(kubeconfig=str(kubeconfig))
    yield driver
    driver.close()


@pytest.fixture
def client_pod(backend: KubeBackend) -> str:
    return Lab(backend).deploy_client()


def test_the_served_kubeconfig_passes_the_context_guard(backend: KubeBackend, server: ApiServer) -> None:
    assert (backend.context, backend.allowed_because) == ("kind-labkit-sim", "kind cluster")
    # the Python client sends the kubeconfig's token
    assert backend.list_objects("v1", "Namespace")
    assert server.requests and all(r.credentials for r in server.requests)


def test_objects_round_trip_through_server_side_apply(backend: KubeBackend) -> None:
    ref = Ref.of(SERVICE_ENTRY)
    stored = backend.apply([SERVICE_ENTRY])[0]
    assert stored["metadata"]["managedFields"][0]["manager"] == "labkit"
    assert backend.list_objects("networking.istio.io/v1", "ServiceEntry", "default")[0]["spec"] == SERVICE_ENTRY["spec"]
    patched = backend.patch(ref, {"metadata": {"labels": {"lab": "x"}}})
    assert patched["metadata"]["labels"] == {"lab": "x"}
    assert backend.delete(ref) is True
    assert backend.delete(ref) is False and backend.get(ref) is None


def test_an_invalid_object_is_rejected_with_the_servers_reason(backend: KubeBackend) -> None:
    broken = {**SERVICE_ENTRY, "spec": {**SERVICE_ENTRY["spec"], "resolution": "SOMETIMES"}}
    with pytest.raises(LabkitError) as rejected:
        backend.apply([broken])
    assert (
        'the cluster rejected document 1 (ServiceEntry/baidu): ServiceEntry.networking.istio.io "baidu" is invalid'
        in str(rejected.value)
    )


def test_the_exit_code_comes_from_the_error_channel(backend: KubeBackend, client_pod: str) -> None:
    """Pitfall: WSClient.returncode stays None until the stream is closed and drained; the backend reads
    the Status on channel 3 itself, so every exit code arrives, zero or not."""
    failed = backend.exec("default", client_pod, "sleep", ["curl", "-sS", "http://nope.invalid"], 10)
    worked = backend.exec(
        "default", client_pod, "sleep", ["curl", "-sS", "-o", "/dev/null", "http://httpbin.org/get"], 10
    )
    assert (failed.exit_code, failed.stderr) == (6, "curl: (6) Could not resolve host: nope.invalid\n")
    assert worked.exit_code == 0


def test_curl_through_the_wrapper_recovers_headers_curl_did_not_print(backend: KubeBackend, client_pod: str) -> None:
    result = backend.curl("default", client_pod, "sleep", ["-sS", "http://httpbin.org/headers"], 10)
    assert (result.exit_code, result.status) == (0, 200)
    assert result.headers["content-type"] == "application/json"
    assert '"Host": "httpbin.org"' in result.body and "::labkit-curl-headers" not in result.body


def test_an_exec_missing_its_container_reports_the_api_servers_message(backend: KubeBackend, client_pod: str) -> None:
    """Pitfall: kubernetes.stream reports a refused exec upgrade as ApiException(status=0) whose reason is
    websocket-client's handshake dump; the API server's Status was buried in that text."""
    with pytest.raises(LabkitError) as refused:
        backend.exec("default", client_pod, "nope", ["curl", "--version"], 10)
    text = str(refused.value)
    assert text.startswith(f"cannot exec in default/{client_pod} container nope: container nope is not valid for pod")
    assert "-+-+-" not in text and "Handshake status" not in text


@pytest.mark.parametrize(
    "reason",
    [
        'Handshake status 404 Not Found -+-+- {"content-type": "application/json"} -+-+- '
        '{"kind":"Status","message":"pods \\"x\\" not found","code":404}',
        'Handshake status 404 Not Found -+-+- {} -+-+- b\'{"kind":"Status","message":"pods x not found"}\'',
    ],
    ids=["websocket-client >= 1.7", "older websocket-client (bytes)"],
)
def test_a_refused_upgrade_keeps_its_status_and_message(reason: str) -> None:
    exc = ApiException(status=0, reason=reason)
    assert status_of(exc) == 404 and is_not_found(exc)
    assert message_of(exc).startswith("pods ") and message_of(exc).endswith(" not found")


def test_a_refused_upgrade_without_a_body_says_the_status_line() -> None:
    exc = ApiException(status=0, reason="Handshake status 403 Forbidden -+-+- {} -+-+- None")
    assert (status_of(exc), message_of(exc)) == (403, "Handshake status 403 Forbidden")


def test_a_dropped_exec_stream_is_a_result_not_a_crash(kubeconfig: Path) -> None:
    """Pitfall: WSClient.update() lets websocket-client's WebSocketConnectionClosedException escape when the
    connection drops without a close frame (an API server restart, a node going away)."""
    server = ApiServer().start()
    config = server.write_kubeconfig(kubeconfig.parent / "dropping")
    driver = KubeBackend(kubeconfig=str(config))
    try:
        pod = Lab(driver).deploy_client()
        threading.Timer(1.0, server.stop).start()  # while curl waits for /delay/5
        result = driver.curl("default", pod, "sleep", ["-sS", "http://httpbin.org/delay/5"], 20)
    finally:
        driver.close()
        server.stop()
    assert result.exit_code == 126
    assert "the exec stream broke before the exit status arrived" in result.stderr


def test_an_exec_past_its_deadline_reports_a_timeout(backend: KubeBackend, client_pod: str) -> None:
    """Pitfall: after the client's deadline the error channel is empty; that is a timeout, not exit 0."""
    start = time.monotonic()
    result = backend.exec("default", client_pod, "sleep", ["curl", "-sS", "http://httpbin.org/delay/4"], 1.0)
    assert result.exit_code == 124 and "no exit status after 1s" in result.stderr
    assert time.monotonic() - start < 3.5


def test_api_calls_during_an_exec_use_their_own_client(backend: KubeBackend, client_pod: str) -> None:
    """Pitfall: kubernetes.stream.stream swaps the call method of the ApiClient it streams through while
    it connects, so a client shared with ordinary calls breaks them; the backend keeps exec apart."""
    errors: list[BaseException] = []
    listed: list[int] = []
    stop = threading.Event()

    def list_pods() -> None:
        while not stop.is_set() and len(listed) < 200:
            try:
                listed.append(len(backend.list_objects("v1", "Pod", "default", "app=sleep")))
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)
                return

    worker = threading.Thread(target=list_pods)
    worker.start()
    try:
        results = [backend.exec("default", client_pod, "sleep", ["curl", "--version"], 10) for _ in range(5)]
    finally:
        stop.set()
        worker.join(10)
    assert errors == []
    assert listed and set(listed) == {1}
    assert all(r.exit_code == 0 and r.stdout.startswith("curl 8.") for r in results)


def test_logs_since_a_few_seconds_count_real_seconds(backend: KubeBackend, client_pod: str) -> None:
    backend.curl("default", client_pod, "sleep", ["-sS", "http://httpbin.org/headers"], 10)
    lines = backend.logs("default", client_pod, "istio-proxy", since_seconds=30)
    assert len(lines) == 1 and '"GET /headers HTTP/1.1" 200' in lines[0]
    time.sleep(2.2)  # the simulator's clock follows the wall clock: the line is now 2 s old
    assert backend.logs("default", client_pod, "istio-proxy", since_seconds=1) == []


def test_the_doctor_over_the_wire_sees_a_ready_lab_cluster(backend: KubeBackend) -> None:
    items = {item.name: item for item in backend.doctor()}
    assert items["Kubernetes"].ok and items["Istio"].detail.startswith("1.27.1")
    assert items["egress gateway"].ok and items["access logging"].ok
    assert items["NetworkPolicy enforcement"].ok is True  # kind's kindnet DaemonSet, read over the API


def test_the_doctor_sees_an_old_kindnet_that_does_not_enforce_network_policy(tmp_path: Path) -> None:
    with ApiServer(SimBackend(enforce_network_policy=False)) as server:
        driver = KubeBackend(kubeconfig=str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        try:
            items = {item.name: item for item in driver.doctor()}
        finally:
            driver.close()
    assert items["NetworkPolicy enforcement"].ok is False
    assert "kind < v0.24" in items["NetworkPolicy enforcement"].detail
