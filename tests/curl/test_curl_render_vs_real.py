"""render() against what the real curl prints for the same options and the same server answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit.curl.args import parse_args
from labkit.curl.headers import parse_header_dump
from labkit.curl.render import Exchange, Failure, Transfer, render
from labkit.curl.urls import resolve_location


@pytest.fixture
def observed(real_curl, server, tmp_path: Path):
    """What the server answers for a URL, as Exchanges, learned through a real curl -D run."""

    def observe(path: str, follow: bool = False, method_args: tuple[str, ...] = ()) -> list[Exchange]:
        url = server.base + path
        dump, body = tmp_path / "observed.h", tmp_path / "observed.b"
        flags = ["-L"] if follow else []
        run = real_curl("-s", *flags, *method_args, "-D", str(dump), "-o", str(body), url)
        assert run.exit_code in (0, 22)
        responses = parse_header_dump(dump.read_bytes().decode())
        exchanges = []
        for index, response in enumerate(responses):
            last = index == len(responses) - 1
            exchanges.append(
                Exchange(url, response, body.read_bytes().decode() if last else "", "127.0.0.1", server.port)
            )
            url = resolve_location(url, response.header("location") or "")
        return exchanges

    return observe


def _meter(stderr: str) -> list[list[str]]:
    """Progress meter lines as columns, with the timing-dependent speed columns blanked.

    curl redraws whenever data arrives, so a slow loopback can add a repeat of the same line:
    consecutive duplicates count once.
    """
    rows: list[list[str]] = []
    for line in re.split(r"[\r\n]", stderr):
        cols = line.split()
        if len(cols) == 12 and cols[0].isdigit():
            cols[6] = cols[11] = "<speed>"
            if not rows or rows[-1] != cols:
                rows.append(cols)
    return rows


def _meter_header(stderr: str) -> str:
    return "\n".join(stderr.split("\n")[:2])


def test_redirect_chain_headers_with_dump_to_stdout(real_curl, server, observed) -> None:
    argv = ["-sS", "-L", "-D", "-", server.base + "/chain"]
    real = real_curl(*argv)
    exchanges = observed("/chain", follow=True)
    assert [e.response.status for e in exchanges] == [302, 301, 200]
    out = render(parse_args(argv), Transfer(exchanges, None, 0.01))
    assert out.stdout == real.stdout
    assert out.stdout.count("\r\n\r\n") == 3  # a blank line after every block
    assert (out.stderr, out.exit_code) == (real.stderr, real.exit_code) == ("", 0)
    assert out.body == server.json_body


def test_head_prints_only_headers(real_curl, server, observed) -> None:
    argv = ["-I", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get", method_args=("-I",)), None, 0.002))
    assert out.stdout == real.stdout
    assert out.stdout.startswith("HTTP/1.1 200 OK\r\n") and out.stdout.endswith("\r\n\r\n")
    assert _meter_header(out.stderr) == _meter_header(real.stderr)
    assert _meter(out.stderr) == _meter(real.stderr)
    assert out.body == ""


def test_head_with_location_shows_every_block(real_curl, server, observed) -> None:
    argv = ["-s", "-I", "-L", server.base + "/redirect"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/redirect", follow=True, method_args=("-I",)), None, 0.01))
    assert out.stdout == real.stdout
    assert re.findall(r"^HTTP/\S+ (\d+)", out.stdout, flags=re.MULTILINE) == ["301", "200"]


def test_include_prints_headers_then_body(real_curl, server, observed) -> None:
    argv = ["-s", "-i", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.01))
    assert out.stdout == real.stdout
    assert out.stdout.endswith("\r\n\r\n" + server.json_body)


def test_write_out_http_code(real_curl, server, observed) -> None:
    argv = ["-s", "-o", "/dev/null", "-w", "%{http_code}", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.01))
    assert out.stdout == real.stdout == "200"
    assert out.body == ""


def test_write_out_variables_after_redirects(real_curl, server, observed) -> None:
    fmt = (
        "%{http_code}|%{response_code}|%{num_redirects}|%{url_effective}|%{content_type}|%{remote_ip}|"
        "%{remote_port}|%{exitcode}|[%{errormsg}]|%{size_download}|%{size_header}|%{method}|"
        "%{http_version}|%{redirect_url}|%header{content-length}\\n"
    )
    argv = ["-s", "-L", "-o", "/dev/null", "-w", fmt, server.base + "/chain"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/chain", follow=True), None, 0.01))
    assert out.stdout == real.stdout
    assert out.stdout.startswith(f"200|200|2|{server.base}/get|application/json|127.0.0.1|")


def test_redirect_url_without_location(real_curl, server, observed) -> None:
    argv = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url} %{num_redirects}", server.base + "/redirect"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/redirect"), None, 0.01))
    assert out.stdout == real.stdout == f"301 {server.base}/get 0"


def test_time_total_has_six_decimals(real_curl, server, observed) -> None:
    argv = ["-s", "-o", "/dev/null", "-w", "%{time_total}", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.25))
    assert out.stdout == "0.250000"
    assert re.fullmatch(r"\d+\.\d{6}", real.stdout)


def test_silent_discard_prints_nothing(real_curl, server, observed) -> None:
    argv = ["-o", "/dev/null", "-s", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.01))
    assert (out.stdout, out.stderr, out.exit_code) == (real.stdout, real.stderr, real.exit_code) == ("", "", 0)
    assert out.files == {}


def test_progress_meter_for_plain_get(real_curl, server, observed) -> None:
    argv = [server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.001))
    assert out.stdout == real.stdout == server.json_body
    assert _meter_header(out.stderr) == _meter_header(real.stderr)
    assert _meter(out.stderr) == _meter(real.stderr)
    assert out.stderr.endswith("\n") and real.stderr.endswith("\n")


def test_progress_meter_across_redirects(real_curl, server, observed) -> None:
    argv = ["-L", "-o", "/dev/null", server.base + "/redirect"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/redirect", follow=True), None, 0.001))
    assert _meter(out.stderr) == _meter(real.stderr)
    assert out.stderr.endswith("\n")


CONNECT_FAILURES = [
    ["-sS"],
    ["-s"],
    [],
    ["-sS", "-w", "%{http_code}"],
    ["-s", "-w", "%{http_code} %{response_code} %{exitcode} %{remote_ip}|%{remote_port} [%{errormsg}]\\n"],
    ["-w", "%{stderr}%{http_code}\\n"],
]


@pytest.mark.parametrize("flags", CONNECT_FAILURES, ids=[" ".join(f) or "(no flags)" for f in CONNECT_FAILURES])
def test_connect_failure_to_closed_port(real_curl, closed_port: int, flags: list[str]) -> None:
    argv = [*flags, f"http://127.0.0.1:{closed_port}/get"]
    real = real_curl(*argv)
    assert real.exit_code == 7
    # The text carries a duration ("after 0 ms"): take it from this very run when it shows.
    pattern = r"Failed to connect to [^\n\]]*"
    message = re.search(pattern, real.stderr + real.stdout) or re.search(
        pattern, real_curl(f"http://127.0.0.1:{closed_port}/get").stderr
    )
    assert message is not None
    out = render(parse_args(argv), Transfer([], Failure(7, message.group(0)), 0.0005))
    assert (out.stdout, out.stderr, out.exit_code) == (real.stdout, real.stderr, real.exit_code)


def test_fail_on_404(real_curl, server, observed) -> None:
    exchanges = observed("/status/404")
    for argv in (["-sSf"], ["-sf"], ["-sS", "--fail"], ["-s", "-i", "-f"], ["-s", "-f", "-D", "-"]):
        full = [*argv, server.base + "/status/404"]
        real = real_curl(*full)
        out = render(parse_args(full), Transfer(exchanges, None, 0.01))
        assert (out.stdout, out.stderr, out.exit_code) == (real.stdout, real.stderr, real.exit_code), argv
        assert out.exit_code == 22


def test_fail_with_body_keeps_the_body(real_curl, server, observed) -> None:
    argv = ["-s", "--fail-with-body", server.base + "/status/404"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/status/404"), None, 0.01))
    assert (out.stdout, out.exit_code) == (real.stdout, real.exit_code) == ("nope\n", 22)


def test_404_without_fail_is_success(real_curl, server, observed) -> None:
    argv = ["-sS", "-w", "%{http_code}", server.base + "/status/404"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/status/404"), None, 0.01))
    assert (out.stdout, out.stderr, out.exit_code) == (real.stdout, real.stderr, real.exit_code) == ("nope\n404", "", 0)


def test_output_and_dump_files(real_curl, server, observed, tmp_path: Path) -> None:
    headers, body = tmp_path / "real.h", tmp_path / "real.b"
    argv = ["-s", "-L", "-D", str(headers), "-o", str(body), server.base + "/redirect"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/redirect", follow=True), None, 0.01))
    assert out.files == {str(headers): headers.read_bytes().decode(), str(body): body.read_bytes().decode()}
    assert (out.stdout, real.stdout) == ("", "")


def test_include_into_output_file(real_curl, server, observed, tmp_path: Path) -> None:
    target = tmp_path / "real.out"
    argv = ["-s", "-i", "-o", str(target), server.base + "/get"]
    real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.01))
    assert out.files == {str(target): target.read_bytes().decode()}
    assert out.stdout == ""


def test_post_data_write_out(real_curl, server, observed) -> None:
    argv = [
        "-s",
        "-o",
        "/dev/null",
        "-d",
        "a=1&b=2",
        "-w",
        "%{method} %{size_upload} %{http_code}",
        server.base + "/get",
    ]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get", method_args=("-d", "a=1&b=2")), None, 0.01))
    assert out.stdout == real.stdout == "POST 7 200"


def test_verbose_lines(real_curl, server, observed) -> None:
    argv = ["-sv", server.base + "/get"]
    real = real_curl(*argv)
    out = render(parse_args(argv), Transfer(observed("/get"), None, 0.01))
    assert out.stdout == real.stdout

    def lines(text: str, prefix: str) -> list[str]:
        return [line for line in text.split("\n") if line.startswith(prefix) and "User-Agent" not in line]

    assert lines(out.stderr, "< ") == lines(real.stderr, "< ")  # response headers, CRLF kept
    assert lines(out.stderr, "> ") == lines(real.stderr, "> ")  # request line and headers
    assert "{ [13 bytes data]" in out.stderr.split("\n")
    assert f"*   Trying 127.0.0.1:{server.port}..." in out.stderr.split("\n")
    assert all(line[:2] in ("* ", "> ", "< ", "{ ") for line in out.stderr.split("\n") if line)
