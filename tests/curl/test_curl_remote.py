"""build_command() run for real with /bin/sh and curl against the loopback server, then to_result()."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from labkit.backend import ExecResult
from labkit.curl.remote import MARKER, SCRIPT, build_command, split_marker, to_result
from labkit.result import CurlResult


@pytest.fixture
def execute(shell_run):
    """Run an argv like a pod exec would: stdout, stderr, exit code, elapsed."""

    def call(argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        start = time.monotonic()
        done = shell_run(argv, env)
        return ExecResult(done.stdout, done.stderr, done.exit_code, time.monotonic() - start)

    return call


@pytest.fixture
def curl(execute):
    """``curl *args`` through build_command and to_result."""

    def call(args: list[str], env: dict[str, str] | None = None) -> tuple[CurlResult, ExecResult]:
        raw = execute(build_command(args), env)
        return to_result(args, raw), raw

    return call


def test_command_passes_args_unchanged() -> None:
    args = ["-sS", "-L", "-w", "%{http_code}", "http://h/ x"]
    assert build_command(args) == ["sh", "-c", SCRIPT, "sh", "@tmp", *args]
    assert build_command(["-D", "-", "u"])[4] == ""  # headers already go to stdout
    assert build_command(["-sD", "/tmp/h", "u"])[4] == "/tmp/h"  # the user's file is read back


def test_redirect_chain_is_captured_without_touching_stdout(curl, server) -> None:
    args = ["-sS", "-L", server.base + "/chain"]
    result, raw = curl(args)
    assert result.statuses == [302, 301, 200]
    assert result.headers["content-type"] == "application/json"
    assert (result.exit_code, result.body, result.stdout) == (0, server.json_body, server.json_body)
    assert MARKER in raw.stdout and MARKER not in result.stdout
    assert (result.argv, result.simulated) == (["curl", *args], False)
    assert result.elapsed > 0


def test_stdout_matches_plain_curl(curl, server, real_curl) -> None:
    args = ["-s", "-i", "-L", server.base + "/redirect"]
    result, _ = curl(args)
    assert result.stdout == real_curl(*args).stdout
    assert result.statuses == [301, 200]
    assert result.body == server.json_body


def test_write_out_only(curl, server) -> None:
    result, _ = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", server.base + "/get"])
    assert (result.stdout, result.body, result.status) == ("200", "", 200)


def test_write_out_after_body_is_not_body(curl, server) -> None:
    result, _ = curl(["-s", server.base + "/text", "-w", "\n%{http_code} %{url_effective} %{time_total}\n"])
    assert result.body == "line one\nline two"
    assert result.stdout.startswith("line one\nline two\n200 ")
    assert result.status == 200


def test_dump_header_to_stdout(curl, server) -> None:
    result, _ = curl(["-s", "-D", "-", "-L", server.base + "/redirect"])
    assert result.statuses == [301, 200]
    assert result.body == server.json_body
    assert result.stdout.startswith("HTTP/1.1 301 ")


def test_head(curl, server) -> None:
    result, _ = curl(["-sI", server.base + "/get"])
    assert (result.status, result.body, result.exit_code) == (200, "", 0)
    assert result.headers["content-length"] == str(len(server.json_body))


def test_connect_failure(curl, closed_port: int) -> None:
    result, _ = curl(["-sS", "-w", "%{http_code}", f"http://127.0.0.1:{closed_port}/"])
    assert (result.exit_code, result.status, result.responses) == (7, None, [])
    assert result.stderr.startswith("curl: (7) Failed to connect to 127.0.0.1 port")
    assert (result.stdout, result.body) == ("000", "")


def test_fail_on_404(curl, server) -> None:
    result, _ = curl(["-sf", server.base + "/status/404"])
    assert (result.exit_code, result.status, result.body) == (22, 404, "")


def test_usage_error(curl, server) -> None:
    result, _ = curl(["--definitely-not-an-option", server.base])
    assert result.exit_code == 2
    assert result.stderr.startswith("curl: option --definitely-not-an-option: is unknown")
    assert result.responses == []


def test_users_own_dump_file_is_read_back_and_kept(curl, server, tmp_path: Path) -> None:
    dump = tmp_path / "mine.txt"
    result, _ = curl(["-s", "-L", "-D", str(dump), server.base + "/redirect"])
    assert result.statuses == [301, 200]
    assert dump.read_text().startswith("HTTP/1.1 301")
    assert result.body == server.json_body


def test_temp_file_is_removed(curl, server, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result, _ = curl(["-s", server.base + "/get"], env)
    assert result.status == 200
    assert list(tmp_path.iterdir()) == []


def test_without_mktemp_headers_in_stdout_still_parse(curl, server, tmp_path: Path) -> None:
    # A minimal image: only sh, curl, cat and rm on PATH, so mktemp fails and curl runs untouched.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "curl", "cat", "rm"):
        target = next(Path(d) / tool for d in os.environ["PATH"].split(":") if (Path(d) / tool).exists())
        (bin_dir / tool).symlink_to(target)
    env = {"PATH": str(bin_dir)}
    plain, _ = curl(["-s", server.base + "/get"], env)
    assert (plain.exit_code, plain.body, plain.responses) == (0, server.json_body, [])
    shown, _ = curl(["-s", "-i", server.base + "/get"], env)
    assert (shown.status, shown.body) == (200, server.json_body)


def test_missing_marker_falls_back_to_plain_stdout(execute, curl_path, server) -> None:
    args = ["-s", "-i", server.base + "/status/503"]
    raw = execute([curl_path, *args])  # what a pod without sh would give if curl ran directly
    result = to_result(args, raw)
    assert (result.status, result.exit_code, result.body) == (503, 0, "nope\n")


def test_no_sh_in_image() -> None:
    raw = ExecResult("", 'exec: "sh": executable file not found in $PATH', 126, 0.05)
    result = to_result(["-s", "http://h/"], raw)
    assert (result.exit_code, result.responses, result.stderr) == (126, [], raw.stderr)


def test_marker_parsing_is_robust() -> None:
    fake = f"body\n{MARKER} rc=0\nstill body"
    text = f"{fake}\n{MARKER} rc=7\nHTTP/1.1 200 OK\r\n\r\n"
    assert split_marker(text) == (fake, "HTTP/1.1 200 OK\r\n\r\n", 7)
    assert split_marker("no marker") is None
    # Some exec transports turn CRLF into LF: the dump still parses.
    result = to_result(["http://h/"], ExecResult(f"hi\n{MARKER} rc=0\nHTTP/1.1 204 No Content\n\n", "", 0, 0.1))
    assert (result.status, result.body, result.stdout) == (204, "hi", "hi")
