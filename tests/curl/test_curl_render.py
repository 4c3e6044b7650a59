"""render() on outcomes the loopback server cannot produce: HTTP/2, TLS failures, egress-style errors."""

from __future__ import annotations

import pytest

from labkit.curl.args import parse_args
from labkit.curl.info import VERSION_TEXT
from labkit.curl.render import Exchange, Failure, Transfer, render
from labkit.curl.verbose import CURL_VERSION
from labkit.result import HttpResponse

OK_H2 = HttpResponse("2", 200, "", (("Content-Type", "application/json"), ("content-length", "13")))
MOVED = HttpResponse(
    "1.1", 301, "Moved Permanently", (("location", "https://httpbin.org/get"), ("content-length", "0"))
)
NOT_FOUND = HttpResponse("1.1", 404, "Not Found", (("content-length", "4"),))
BODY = '{"ok": true}\n'
EMPTY_REPLY = Failure(52, "Empty reply from server")
H2_BLOCK = "HTTP/2 200 \r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n"


def _redirect_to_h2() -> Transfer:
    return Transfer(
        [
            Exchange("http://httpbin.org/get", MOVED, "", "10.0.0.5", 80, "10.244.0.9", 40001),
            Exchange("https://httpbin.org/get", OK_H2, BODY, "10.0.0.5", 443, "10.244.0.9", 40002),
        ],
        None,
        0.42,
    )


def test_http2_block_as_curl_writes_it() -> None:
    out = render(parse_args(["-s", "-L", "-D", "-", "http://httpbin.org/get"]), _redirect_to_h2())
    assert out.stdout == (
        "HTTP/1.1 301 Moved Permanently\r\nlocation: https://httpbin.org/get\r\ncontent-length: 0\r\n\r\n"
        "HTTP/2 200 \r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n" + BODY
    )
    assert (out.exit_code, out.stderr, out.body) == (0, "", BODY)


def test_without_follow_the_redirect_body_is_the_output() -> None:
    moved = Transfer([Exchange("http://h/", MOVED, "<html>moved</html>", "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-s", "-w", "\n%{http_code} %{redirect_url}", "http://h/"]), moved)
    assert out.stdout == "<html>moved</html>\n301 https://httpbin.org/get"


def test_write_out_after_redirect_chain() -> None:
    fmt = "%{http_code} %{num_redirects} %{url_effective} %{remote_ip}:%{remote_port} %{scheme} %{http_version}"
    out = render(parse_args(["-s", "-L", "-o", "/dev/null", "-w", fmt, "httpbin.org/get"]), _redirect_to_h2())
    assert out.stdout == "200 1 https://httpbin.org/get 10.0.0.5:443 https 2"
    assert out.body == ""


def test_write_out_with_no_response() -> None:
    failure = Failure(28, "Failed to connect to httpbin.org port 80 after 3002 ms: Timeout was reached")
    fmt = "%{http_code}|%{response_code}|%{exitcode}|%{errormsg}|%{time_total}|%{url_effective}|%{num_redirects}"
    out = render(parse_args(["-s", "-w", fmt, "httpbin.org"]), Transfer([], failure, 3.002))
    assert out.stdout == f"000|000|28|{failure.message}|3.002000|http://httpbin.org/|0"
    assert (out.exit_code, out.stderr) == (28, "")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (28, "Failed to connect to httpbin.org port 80 after 3002 ms: Timeout was reached"),
        (35, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to www.baidu.com:443"),
        (52, "Empty reply from server"),
        (56, "Recv failure: Connection reset by peer"),
    ],
)
def test_failure_lines(code: int, message: str) -> None:
    url = "https://www.baidu.com" if code == 35 else "http://httpbin.org/get"
    transfer = Transfer([], Failure(code, message), 0.2)
    assert render(parse_args(["-sS", url]), transfer).stderr == f"curl: ({code}) {message}\n"
    assert render(parse_args(["-s", url]), transfer).stderr == ""
    noisy = render(parse_args([url]), transfer)
    assert noisy.exit_code == code
    assert noisy.stderr.startswith("  % Total")
    assert noisy.stderr.endswith(f"\ncurl: ({code}) {message}\n")


def test_progress_meter_shows_time_spent_on_timeout() -> None:
    failure = Failure(28, "Connection timed out after 3001 milliseconds")
    out = render(parse_args(["http://10.0.0.1/"]), Transfer([], failure, 3.001))
    assert "--:--:--  0:00:03 --:--:--" in out.stderr


def test_no_progress_meter_keeps_errors() -> None:
    out = render(
        parse_args(["--no-progress-meter", "http://h/"]), Transfer([], Failure(52, "Empty reply from server"), 0.1)
    )
    assert out.stderr == "curl: (52) Empty reply from server\n"


def test_fail_with_status() -> None:
    transfer = Transfer([Exchange("http://h/missing", NOT_FOUND, "nope", "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-sS", "-f", "-w", "%{http_code} %{errormsg}", "http://h/missing"]), transfer)
    assert out.exit_code == 22
    assert out.stdout == "404 The requested URL returned error: 404"
    assert out.stderr == "curl: (22) The requested URL returned error: 404\n"
    with_body = render(parse_args(["-s", "--fail-with-body", "http://h/missing"]), transfer)
    assert (with_body.stdout, with_body.exit_code) == ("nope", 22)


def test_too_many_redirects_drops_last_body() -> None:
    hop = Exchange("http://h/", HttpResponse("1.1", 302, "Found", (("location", "/"),)), "loop", "1.2.3.4", 80)
    transfer = Transfer([hop, hop], Failure(47, "Maximum (1) redirects followed"), 0.1)
    out = render(parse_args(["-sS", "-L", "--max-redirs", "1", "http://h/"]), transfer)
    assert (out.stdout, out.stderr, out.exit_code) == ("", "curl: (47) Maximum (1) redirects followed\n", 47)


def test_head_has_no_body_even_if_given() -> None:
    transfer = Transfer([Exchange("http://h/", OK_H2, BODY, "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-sI", "http://h/"]), transfer)
    assert out.stdout == H2_BLOCK
    assert out.body == ""


def test_files_written_and_devnull_dropped() -> None:
    transfer = Transfer([Exchange("http://h/", OK_H2, BODY, "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-s", "-o", "/tmp/body", "-D", "/dev/null", "http://h/"]), transfer)
    assert out.files == {"/tmp/body": BODY}
    out = render(parse_args(["-s", "-o", "/tmp/both", "-D", "/tmp/both", "http://h/"]), transfer)
    assert out.files == {
        "/tmp/both": "HTTP/2 200 \r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n" + BODY
    }
    out = render(parse_args(["-s", "-D", "/dev/stderr", "http://h/"]), transfer)
    assert out.stderr.startswith("HTTP/2 200 ")


def test_dump_header_before_each_body() -> None:
    out = render(parse_args(["-s", "-D", "-", "-w", "[%{http_code}]", "http://h/"]), _redirect_to_h2())
    assert out.stdout.index("HTTP/2 200") < out.stdout.index(BODY) < out.stdout.index("[200]")


def test_verbose_shape_for_redirect_to_https() -> None:
    out = render(parse_args(["-sv", "-L", "http://httpbin.org/get"]), _redirect_to_h2())
    lines = out.stderr.split("\n")
    assert "* Host httpbin.org:80 was resolved." in lines
    assert "*   Trying 10.0.0.5:80..." in lines
    assert "* Established connection to httpbin.org (10.0.0.5 port 80) from 10.244.0.9 port 40001 " in lines
    assert "> GET /get HTTP/1.1\r" in lines
    assert f"> User-Agent: curl/{CURL_VERSION}\r" in lines
    assert "< HTTP/1.1 301 Moved Permanently\r" in lines
    assert "* Issue another request to this URL: 'https://httpbin.org/get'" in lines
    assert "* ALPN: server accepted h2" in lines
    assert "> GET /get HTTP/2\r" in lines
    assert "< HTTP/2 200 \r" in lines
    assert "{ [13 bytes data]" in lines
    assert lines[-2] == "* Connection #1 to host httpbin.org:443 left intact"
    assert all(line[:2] in ("* ", "> ", "< ", "{ ") for line in lines if line)


def test_verbose_connect_failure() -> None:
    failure = Failure(7, "Failed to connect to 10.0.0.1 port 80 after 2 ms: Could not connect to server", "10.0.0.1")
    out = render(parse_args(["-sv", "http://10.0.0.1/"]), Transfer([], failure, 0.002))
    assert out.stderr == (f"*   Trying 10.0.0.1:80...\n* {failure.message}\n* closing connection #0\n")


def test_verbose_empty_reply_shows_the_request() -> None:
    out = render(
        parse_args(["-svS", "-H", "X-Lab: 1", "http://h.example/x"]),
        Transfer([], Failure(52, "Empty reply from server"), 0.1),
    )
    assert "> GET /x HTTP/1.1\r\n> Host: h.example\r\n" in out.stderr
    assert "> X-Lab: 1\r\n" in out.stderr
    assert out.stderr.endswith(
        "* Empty reply from server\n* closing connection #0\ncurl: (52) Empty reply from server\n"
    )


def test_verbose_request_headers_follow_user_choices() -> None:
    transfer = Transfer([Exchange("http://h/", OK_H2, BODY, "1.2.3.4", 80)], None, 0.1)
    out = render(
        parse_args(["-sv", "-A", "lab", "-H", "Accept:", "-H", "Host: other", "-d", "a=1", "http://h/"]), transfer
    )
    requests = [line for line in out.stderr.split("\n") if line.startswith("> ")]
    # Order as curl 7.88 writes it on loopback: a custom Host in first place, Content-Length before
    # the form Content-Type; "-H 'Accept:'" drops curl's Accept (man page: -H).
    assert requests == [
        "> POST / HTTP/2\r",
        "> Host: other\r",
        "> User-Agent: lab\r",
        "> Content-Length: 3\r",
        "> Content-Type: application/x-www-form-urlencoded\r",
        "> \r",
    ]


def test_write_out_to_stderr_and_unknown_variable() -> None:
    transfer = Transfer([Exchange("http://h/", OK_H2, BODY, "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-s", "-o", "/dev/null", "-w", "%{stderr}%{http_code}%{bogus}", "http://h/"]), transfer)
    assert out.stdout == ""
    assert out.stderr == "200curl: unknown --write-out variable: 'bogus'\n"


def test_version_prints_and_exits_zero() -> None:
    out = render(parse_args(["--version"]), Transfer([], None, 0.0))
    assert (out.stdout, out.exit_code) == (VERSION_TEXT, 0)
    assert out.stdout.startswith(f"curl {CURL_VERSION} ")


def test_verbose_shows_the_uploaded_body_after_the_headers() -> None:
    transfer = Transfer([Exchange("http://h/", OK_H2, BODY, "1.2.3.4", 80)], None, 0.1)
    out = render(parse_args(["-sv", "-d", "a=1", "http://h/"]), transfer)
    after = out.stderr.split("> \r\n", 1)[1]
    # curl 7.88 on loopback writes "} [3 bytes data]" right after the request headers when it sends
    # a body; curl 8 then reports "* upload completely sent off: 3 bytes" (seen in curl 8.14 -v output).
    assert after.startswith("} [3 bytes data]\n* upload completely sent off: 3 bytes\n")
    get = render(parse_args(["-sv", "http://h/"]), transfer)
    assert "> \r\n* Request completely sent off\n" in get.stderr
