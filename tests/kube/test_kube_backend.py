"""KubeBackend as a whole: the Backend contract, its clock, readiness and logs through the fakes."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from labkit.backend import Backend
from labkit.errors import LabkitError, NotReady


def test_is_a_backend(backend):
    assert isinstance(backend, Backend)
    assert repr(backend) == "<KubeBackend kind-labs>"


def test_wait_ready_uses_the_backend_clock_and_returns_api_shaped_dicts(backend, clock, monkeypatch, models):
    monkeypatch.setattr(backend, "now", clock)
    monkeypatch.setattr(backend, "sleep", clock.sleep)
    backend.clients.core.pods = [models.pod("sleep-1", namespace="lab")]
    pods = backend.wait_ready("lab", "app=sleep", 10)
    assert pods[0]["metadata"]["name"] == "sleep-1"
    assert pods[0]["status"]["containerStatuses"][0]["ready"] is True  # camelCase, as kubectl shows it

    backend.clients.core.pods = []
    with pytest.raises(NotReady, match="no running pods"):
        backend.wait_ready("lab", "app=sleep", 5)
    assert sum(clock.sleeps) == pytest.approx(5)


def test_logs_are_lines_and_since_is_whole_seconds(backend):
    backend.clients.core.log_text = '{"path":"/get","response_code":200}\n{"path":"/ip","response_code":502}\n'
    lines = backend.logs("lab", "sleep-1", "istio-proxy", since_seconds=2.2)
    assert lines == ['{"path":"/get","response_code":200}', '{"path":"/ip","response_code":502}']
    assert backend.clients.core.calls[-1] == (
        "read_namespaced_pod_log",
        "sleep-1",
        "lab",
        {"container": "istio-proxy", "since_seconds": 3, "_request_timeout": 30},
    )
    backend.logs("lab", "sleep-1", "istio-proxy")
    assert "since_seconds" not in backend.clients.core.calls[-1][3]


def test_logs_error_says_what_to_run(backend):
    backend.clients.core.log_error = ApiException(
        status=400, reason="Bad Request", body='{"message": "container istio-proxy is not valid for pod sleep-1"}'
    )
    with pytest.raises(LabkitError) as err:
        backend.logs("lab", "sleep-1", "istio-proxy")
    assert "is not valid for pod sleep-1" in str(err.value)
    assert "kubectl --context kind-labs -n lab logs sleep-1 -c istio-proxy" in str(err.value)


def test_real_time(backend):
    a = backend.now()
    backend.sleep(0.01)
    assert backend.now() - a >= 0.01
