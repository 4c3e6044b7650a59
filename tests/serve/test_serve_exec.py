"""pods/exec over a websocket (v5/v4 channel protocols), pods/log, and the curl wrapper's emulation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websocket import ABNF, WebSocketBadStatusException, create_connection

from labkit.backend import ExecResult
from labkit.curl import remote
from labkit.curl.headers import format_block
from labkit.lab import Lab
from labkit.result import HttpResponse
from labkit.serve import ApiServer, execute
from labkit.sim import SimBackend


def exec_url(server: ApiServer, pod: str, argv: list[str], container: str = "sleep") -> str:
    query = urlencode(
        [*(("command", a) for a in argv), ("container", container), ("stdout", "true"), ("stderr", "true")]
    )
    return f"wss://127.0.0.1:{server.port}/api/v1/namespaces/default/pods/{pod}/exec?{query}"


def connect(server: ApiServer, url: str, **options: Any) -> Any:
    """A websocket to the server as kubectl opens it: over TLS, with the kubeconfig's token."""
    return create_connection(
        url,
        header=[f"Authorization: Bearer {server.token}"],
        sslopt={"context": server.client_context()},
        **options,
    )


def run_ws(server: ApiServer, pod: str, argv: list[str], protocols: list[str]) -> tuple[str, dict[int, bytes]]:
    """The negotiated subprotocol and what arrived on each channel until the server closed."""
    ws = connect(server, exec_url(server, pod, argv), subprotocols=protocols, timeout=20)
    channels: dict[int, bytes] = {}
    try:
        for _ in range(100):  # bounded: a handful of frames, then the close
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == ABNF.OPCODE_CLOSE:
                break
            if opcode == ABNF.OPCODE_BINARY and data:
                channels[data[0]] = channels.get(data[0], b"") + data[1:]
    finally:
        ws.close()
    return ws.subprotocol, channels


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
def test_exec_answers_on_the_channels_with_a_status_carrying_the_exit_code(server, pod, protocol) -> None:
    chosen, channels = run_ws(server, pod, ["curl", "-sS", "http://nope.invalid"], [protocol])
    assert chosen == protocol
    assert channels[2].decode() == "curl: (6) Could not resolve host: nope.invalid\n"
    status = json.loads(channels[3])
    assert (status["status"], status["reason"]) == ("Failure", "NonZeroExitCode")
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "6"}]


def test_a_successful_command_ends_with_a_success_status(server, pod) -> None:
    _, channels = run_ws(server, pod, ["curl", "-sSI", "https://www.baidu.com"], ["v5.channel.k8s.io"])
    assert channels[1].decode().startswith("HTTP/1.1 200 OK\r\n")
    assert json.loads(channels[3])["status"] == "Success"


def test_the_first_offered_protocol_the_server_speaks_wins(server, pod) -> None:
    chosen, _ = run_ws(
        server, pod, ["curl", "--version"], ["base64.channel.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io"]
    )
    assert chosen == "v4.channel.k8s.io"


def test_a_client_offering_only_old_protocols_is_refused(server, pod) -> None:
    with pytest.raises(WebSocketBadStatusException) as refused:
        connect(server, exec_url(server, pod, ["curl", "--version"]), subprotocols=["channel.k8s.io"], timeout=10)
    assert refused.value.status_code == 400


def test_exec_without_an_upgrade_is_a_bad_request(http, pod) -> None:
    reply = http("POST", f"/api/v1/namespaces/default/pods/{pod}/exec?command=curl&container=sleep")
    assert (reply.status, reply.json()["message"]) == (400, "Upgrade request required")


def test_a_missing_container_is_refused_before_the_upgrade(server, pod) -> None:
    with pytest.raises(WebSocketBadStatusException) as refused:
        connect(server, exec_url(server, pod, ["curl", "x"], container="nope"), subprotocols=["v5.channel.k8s.io"])
    assert refused.value.status_code == 400
    assert json.loads(refused.value.resp_body)["message"] == f"container nope is not valid for pod {pod}"


def test_a_simulated_delay_takes_real_time_so_clients_measure_it(server, pod) -> None:
    start = time.monotonic()
    _, channels = run_ws(
        server, pod, ["curl", "-sS", "-o", "/dev/null", "http://httpbin.org/delay/2"], ["v5.channel.k8s.io"]
    )
    took = time.monotonic() - start
    assert json.loads(channels[3])["status"] == "Success"
    assert 2.0 <= took < 10


def test_logs_need_a_container_when_the_pod_has_two(http, server, pod) -> None:
    run_ws(server, pod, ["curl", "-sS", "http://httpbin.org/headers"], ["v5.channel.k8s.io"])
    run_ws(server, pod, ["curl", "-sS", "http://httpbin.org/ip"], ["v5.channel.k8s.io"])
    base = f"/api/v1/namespaces/default/pods/{pod}/log"
    ambiguous = http("GET", base).json()
    assert (
        ambiguous["message"] == f"a container name must be specified for pod {pod}, choose one of: [sleep istio-proxy]"
    )
    lines = http("GET", f"{base}?container=istio-proxy").text.splitlines()
    assert len(lines) == 2 and '"GET /headers HTTP/1.1"' in lines[0]
    assert http("GET", f"{base}?container=istio-proxy&tailLines=1").text.splitlines() == lines[1:]


# -- the wrapper labkit's kube backend sends, emulated here and run for real by sh


FAKE_CURL = """#!/bin/sh
# Replays one recorded curl run: its stdout, stderr, exit code, and the headers it would write with -D.
dump= prev=
for a in "$@"; do
  if [ "$prev" = "-D" ]; then dump=$a; fi
  prev=$a
done
if [ -n "$dump" ] && [ "$dump" != "-" ]; then cat "$REPLAY/dump" > "$dump"; fi
cat "$REPLAY/stdout"
cat "$REPLAY/stderr" >&2
exit "$(cat "$REPLAY/rc")"
"""


def client(sim: SimBackend) -> str:
    return Lab(sim, console=None).deploy_client()


@pytest.mark.parametrize(
    "args",
    [
        ["-sS", "-L", "http://edition.cnn.com/politics"],  # two responses in the dump
        ["-sS", "-D", "/tmp/labkit-test-headers", "http://httpbin.org/headers"],  # the user's own -D file
        ["-sS", "-D", "-", "http://httpbin.org/headers"],  # headers already on stdout
        ["-sS", "http://nope.invalid"],  # no response at all: exit 6
    ],
)
def test_the_wrapper_emulation_prints_what_the_real_script_prints(tmp_path: Path, args: list[str]) -> None:
    reference = SimBackend()
    recorded = reference.curl("default", client(reference), "sleep", args, 30)
    replay = tmp_path / "replay"
    replay.mkdir()
    (replay / "stdout").write_text(recorded.stdout)
    (replay / "stderr").write_text(recorded.stderr)
    (replay / "rc").write_text(str(recorded.exit_code))
    (replay / "dump").write_text("".join(format_block(r) for r in recorded.responses))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    argv = remote.build_command(args)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REPLAY": str(replay), "TMPDIR": str(tmp_path)}
    done = subprocess.run(argv, capture_output=True, env=env, timeout=30, check=False)
    # Bytes, decoded by hand: text mode would turn curl's CRLF header lines into LF.
    real = ExecResult(done.stdout.decode(), done.stderr.decode(), done.returncode, 0.0)

    fresh = SimBackend()  # same history, so the same request ids and the same output
    emulated = execute.run(fresh, "default", client(fresh), "sleep", argv)
    # Two meshes made a moment apart stamp their own wall-clock Date headers; everything else must match.
    def same_day(text: str) -> str:
        return re.sub(r"(?im)^date: [^\r\n]*", "date: <now>", text)

    assert (same_day(emulated.stdout), emulated.stderr, emulated.exit_code) == (
        same_day(real.stdout),
        real.stderr,
        real.exit_code,
    )
    parsed = remote.to_result(args, real)
    assert parsed.exit_code == recorded.exit_code
    assert [_shape(r) for r in parsed.responses] == [_shape(r) for r in recorded.responses]
    assert list(tmp_path.glob("tmp*")) == []  # the script removed its temp file


def _shape(response: HttpResponse) -> tuple:
    """What curl's dump keeps of a response (HTTP/2 header names arrive lower-case)."""
    return response.http_version, response.status, tuple((k.lower(), v) for k, v in response.headers)


def test_a_script_other_than_the_wrapper_is_refused_like_any_program() -> None:
    sim = SimBackend()
    argv = ["sh", "-c", remote.SCRIPT.replace("curl", "wget"), "sh", "@tmp", "http://x"]
    result = execute.run(sim, "default", client(sim), "sleep", argv)
    # issue 10, part 3: syntax the simulated shell does not model (here $(mktemp)) is refused by name.
    assert result.exit_code == 2 and "not modelled by the offline simulator" in result.stderr
