"""exec over the websocket: output, the exit code from the error channel, deadlines, the dedicated client."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from labkit.backend import ExecResult
from labkit.errors import LabkitError
from labkit.kube import KubeBackend
from labkit.kube import exec as kexec
from labkit.result import CurlResult

SUCCESS = json.dumps({"metadata": {}, "status": "Success"})


def nonzero(code: int) -> str:
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    )


# -- the error channel


def test_parse_success():
    assert kexec.parse_status(SUCCESS) == kexec.ExitStatus(0)


def test_parse_nonzero_exit_code():
    assert kexec.parse_status(nonzero(35)) == kexec.ExitStatus(35)


def test_parse_yaml_status():
    text = "status: Failure\nreason: NonZeroExitCode\ndetails:\n  causes:\n  - reason: ExitCode\n    message: '7'\n"
    assert kexec.parse_status(text).code == 7


def test_parse_empty_means_no_exit_code():
    assert kexec.parse_status("").code is None
    assert kexec.parse_status("  \n").code is None


def test_parse_a_command_that_could_not_run():
    text = json.dumps(
        {
            "status": "Failure",
            "reason": "InternalError",
            "message": 'exec: "curlx": executable file not found in $PATH: unknown',
        }
    )
    status = kexec.parse_status(text)
    assert status.code == 127
    assert "curlx" in status.message


# -- a whole exec


def run(core, **kwargs):
    defaults = dict(namespace="lab", pod="sleep-1", container="sleep", argv=["curl", "-sS", "http://x"], timeout=10)
    defaults.update(kwargs)
    clock = defaults.pop("clock")
    return kexec.run(core, clock=clock, **defaults)


def test_success_collects_output_and_closes(core, clock, ws_factory, fake_stream):
    ws = ws_factory([{1: "hello "}, {1: "world\n", 2: "warn\n"}, {3: SUCCESS}])
    stream = fake_stream(ws)
    result, timed_out = run(core, clock=clock)
    assert result == ExecResult(stdout="hello world\n", stderr="warn\n", exit_code=0, elapsed=pytest.approx(0.03))
    assert timed_out is False
    assert ws.closed
    api_method, args, kwargs = stream.calls[0]
    assert api_method == core.connect_get_namespaced_pod_exec
    assert args == ("sleep-1", "lab")
    assert kwargs == {
        "command": ["curl", "-sS", "http://x"],
        "container": "sleep",
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "_preload_content": False,
    }


def test_nonzero_exit_code_35(core, clock, ws_factory, fake_stream):
    ws = ws_factory([{2: "curl: (35) OpenSSL SSL_connect: Connection reset by peer\n"}, {3: nonzero(35)}])
    fake_stream(ws)
    result, timed_out = run(core, clock=clock)
    assert result.exit_code == 35
    assert result.stderr.startswith("curl: (35)")
    assert not timed_out and ws.closed


def test_empty_error_channel_after_the_deadline_is_a_timeout(core, clock, ws_factory, fake_stream):
    ws = ws_factory([{1: "partial"}], hang=True)
    fake_stream(ws)
    start = clock()
    result, timed_out = run(core, clock=clock, timeout=3, timeout_exit_code=28)
    assert timed_out is True
    assert result.exit_code == 28
    assert result.stdout == "partial"
    assert "no exit status after 3s" in result.stderr and "timeout" in result.stderr
    assert clock() - start == pytest.approx(3.0)
    assert max(ws.updates) <= kexec.POLL  # never blocks longer than one poll
    assert ws.closed


def test_default_timeout_exit_code_is_124(core, clock, ws_factory, fake_stream):
    fake_stream(ws_factory([], hang=True))
    result, timed_out = run(core, clock=clock, timeout=1)
    assert (result.exit_code, timed_out) == (124, True)


def test_an_exit_status_ends_the_wait_even_if_the_socket_stays_open(core, clock, ws_factory, fake_stream):
    ws = ws_factory([{1: "ok\n", 3: SUCCESS}], hang=True)
    fake_stream(ws)
    start = clock()
    result, timed_out = run(core, clock=clock, timeout=30)
    assert (result.exit_code, timed_out) == (0, False)
    assert clock() - start < 1


def test_stream_closed_without_status(core, clock, ws_factory, fake_stream):
    fake_stream(ws_factory([{1: "x"}]))
    result, timed_out = run(core, clock=clock)
    assert result.exit_code == kexec.CANNOT_RUN
    assert "closed without an exit status" in result.stderr
    assert timed_out is False


def test_connect_failure_names_the_pod(core, clock, fake_stream):
    fake_stream(error=ApiException(status=404, reason="Not Found", body='{"message": "pods \\"sleep-1\\" not found"}'))
    with pytest.raises(LabkitError) as err:
        run(core, clock=clock)
    assert 'pods "sleep-1" not found' in str(err.value)
    assert "kubectl -n lab get pod sleep-1" in err.value.hint


def test_a_stream_that_breaks_while_reading_is_closed_and_reported(core, clock, ws_factory, fake_stream):
    """Pitfall: WSClient.update() lets socket errors escape when the connection drops without a close
    frame; the output that arrived is kept and the result says the exit status never came."""
    ws = ws_factory([{1: "x"}])
    deliver = ws.update

    def breaks_on_the_second_read(timeout=0):
        if ws.updates:
            raise OSError("connection reset")
        deliver(timeout)

    ws.update = breaks_on_the_second_read
    fake_stream(ws)
    result, timed_out = run(core, clock=clock)
    assert ws.closed and not timed_out
    assert (result.stdout, result.exit_code) == ("x", kexec.CANNOT_RUN)
    assert "the exec stream broke before the exit status arrived (connection reset)" in result.stderr


# -- the backend: a dedicated ApiClient for exec


def test_exec_streams_on_its_own_api_client(kubeconfig, ws_factory, fake_stream):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))
    stream = fake_stream(ws_factory([{1: "hi\n"}, {3: SUCCESS}]))
    result = backend.exec("lab", "sleep-1", "sleep", ["echo", "hi"], timeout=5)
    assert result.stdout == "hi\n" and result.exit_code == 0
    api_method = stream.calls[0][0]
    streamed_on = api_method.__self__.api_client
    assert streamed_on is backend.clients.exec_api_client
    assert streamed_on is not backend.clients.api_client
    # CRUD and the typed APIs use the other one; both talk to the same cluster.
    assert backend.clients.core.api_client is backend.clients.api_client
    assert streamed_on.configuration.host == backend.clients.api_client.configuration.host


def test_exec_client_is_separate_from_an_injected_client(kubeconfig):
    from kubernetes import client as k8s

    api_client = k8s.ApiClient(k8s.Configuration(host="https://lab.test:6443"))
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]), api_client=api_client)
    assert backend.clients.exec_api_client is not api_client
    assert backend.clients.exec_core.api_client is backend.clients.exec_api_client
    assert backend.clients.exec_api_client.configuration.host == "https://lab.test:6443"


# -- curl through the backend


@pytest.fixture
def remote(monkeypatch):
    """labkit.curl.remote's two functions, replaced by recording stand-ins."""
    calls = {}

    def build_command(args):
        calls["build"] = list(args)
        return ["curl", "-sS", "-w", "%{http_code}", *args]

    def to_result(args, exec_result):
        calls["to_result"] = (list(args), exec_result)
        return CurlResult(
            argv=["curl", *args],
            exit_code=exec_result.exit_code,
            stdout=exec_result.stdout,
            stderr=exec_result.stderr,
            elapsed=exec_result.elapsed,
        )

    import labkit.curl.remote as module

    monkeypatch.setattr(module, "build_command", build_command)
    monkeypatch.setattr(module, "to_result", to_result)
    return calls


def test_curl_runs_the_built_command_and_parses_its_result(kubeconfig, ws_factory, fake_stream, remote):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))
    stream = fake_stream(ws_factory([{1: "200"}, {3: SUCCESS}]))
    result = backend.curl("lab", "sleep-1", "sleep", ["-I", "https://httpbin.org"], timeout=10)
    assert remote["build"] == ["-I", "https://httpbin.org"]
    assert stream.calls[0][2]["command"] == ["curl", "-sS", "-w", "%{http_code}", "-I", "https://httpbin.org"]
    assert remote["to_result"][0] == ["-I", "https://httpbin.org"]
    assert isinstance(result, CurlResult) and result.exit_code == 0 and result.stdout == "200"


def test_curl_that_never_finishes_is_exit_28(kubeconfig, ws_factory, fake_stream, remote, clock, monkeypatch):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))
    monkeypatch.setattr(backend, "now", clock)
    fake_stream(ws_factory([], hang=True))
    result = backend.curl("lab", "sleep-1", "sleep", ["http://slow"], timeout=2)
    exec_result = remote["to_result"][1]
    assert exec_result.exit_code == 28 and result.exit_code == 28
    assert "no exit status" in exec_result.stderr
    # curl is given its own timeout plus a grace period to report the timeout itself.
    assert exec_result.elapsed == pytest.approx(2 + 5.0)


def test_real_stream_failure_is_reported_and_leaves_the_crud_client_alone(kubeconfig):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))  # nothing listens on its server port
    with pytest.raises(LabkitError) as err:
        backend.exec("lab", "sleep-1", "sleep", ["true"], timeout=2)
    assert "cannot exec in lab/sleep-1 container sleep" in str(err.value)
    assert "kubectl --context kind-x -n lab get pod sleep-1" in err.value.hint
    # stream() swapped call_api only on the exec client (and put the original back afterwards).
    from kubernetes.client import ApiClient

    assert "call_api" not in vars(backend.clients.api_client)
    assert "call_api" in vars(backend.clients.exec_api_client)
    assert backend.clients.exec_api_client.call_api.__func__ is ApiClient.call_api


def test_curl_with_the_real_remote_helpers(kubeconfig, ws_factory, fake_stream):
    from labkit.curl import remote

    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))
    stdout = '{"url": "http://httpbin.org/get"}\n' + f"\n{remote.MARKER} rc=0\n"
    stdout += "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n"
    stream = fake_stream(ws_factory([{1: stdout}, {3: SUCCESS}]))
    result = backend.curl("lab", "sleep-1", "sleep", ["-sS", "http://httpbin.org/get"], timeout=10)
    assert stream.calls[0][2]["command"][:2] == ["sh", "-c"]
    assert stream.calls[0][2]["command"][-2:] == ["-sS", "http://httpbin.org/get"]
    assert (result.exit_code, result.status, result.simulated) == (0, 200, False)
    assert result.headers["Content-Type"] == "application/json"


def test_curl_timeout_with_the_real_remote_helpers(kubeconfig, ws_factory, fake_stream, clock, monkeypatch):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-x"]))
    monkeypatch.setattr(backend, "now", clock)
    fake_stream(ws_factory([], hang=True))
    result = backend.curl("lab", "sleep-1", "sleep", ["http://slow.example"], timeout=1)
    assert (result.exit_code, result.status) == (28, None)
    assert "no exit status" in result.stderr
