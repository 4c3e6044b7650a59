from __future__ import annotations

import pytest

from labkit.curl.args import parse_args
from labkit.curl.headers import format_block, parse_header_dump, split_stdout, status_line
from labkit.result import HttpResponse

DUMP = (
    "HTTP/1.1 301 Moved Permanently\r\n"
    "Location: https://httpbin.org/get\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
    "HTTP/2 200 \r\n"
    "content-type: application/json\r\n"
    "x-multi: a\r\n"
    "x-multi: b\r\n"
    "\r\n"
)


def test_parse_dump_crlf() -> None:
    first, second = parse_header_dump(DUMP)
    assert (first.http_version, first.status, first.reason) == ("1.1", 301, "Moved Permanently")
    assert first.header("location") == "https://httpbin.org/get"
    assert (second.http_version, second.status, second.reason) == ("2", 200, "")
    assert second.headers == (("content-type", "application/json"), ("x-multi", "a"), ("x-multi", "b"))


def test_parse_dump_lf_only_gives_the_same() -> None:
    assert parse_header_dump(DUMP.replace("\r\n", "\n")) == parse_header_dump(DUMP)


def test_parse_dump_skips_interim_and_noise() -> None:
    text = (
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.0 404\r\nServer: envoy\r\nX-Long: one\r\n  two\r\n\r\n"
        "trailer-ish: ignored\r\n"
    )
    (only,) = parse_header_dump(text)
    assert (only.http_version, only.status, only.reason) == ("1.0", 404, "")
    assert only.header("x-long") == "one two"
    assert only.header("trailer-ish") is None


def test_parse_dump_keeps_a_truncated_block() -> None:
    (only,) = parse_header_dump("HTTP/1.1 503 Service Unavailable\r\nserver: envoy")
    assert only.status == 503
    assert only.header("server") == "envoy"


def test_parse_empty_dump() -> None:
    assert parse_header_dump("") == []


@pytest.mark.parametrize(
    ("response", "line"),
    [
        (HttpResponse("1.1", 200, "OK"), "HTTP/1.1 200 OK"),
        (HttpResponse("1.1", 301), "HTTP/1.1 301 Moved Permanently"),  # standard phrase filled in
        (HttpResponse("1.1", 599), "HTTP/1.1 599"),
        (HttpResponse("2", 200), "HTTP/2 200 "),  # curl writes the space even without a reason
        (HttpResponse("2", 503, "ignored"), "HTTP/2 503 "),
    ],
)
def test_status_line(response: HttpResponse, line: str) -> None:
    assert status_line(response) == line


def test_format_block_round_trips() -> None:
    responses = parse_header_dump(DUMP)
    assert "".join(format_block(r) for r in responses) == DUMP


def test_format_block_lowercases_http2_names() -> None:
    block = format_block(HttpResponse("2", 200, "", (("Content-Type", "text/plain"),)))
    assert block == "HTTP/2 200 \r\ncontent-type: text/plain\r\n\r\n"


@pytest.mark.parametrize(
    "argv",
    [["-i", "u"], ["-I", "u"], ["-D", "-", "u"], ["-s", "-L", "-D", "/dev/stdout", "u"], ["-i", "-o", "-", "u"]],
)
def test_split_stdout_when_headers_are_printed(argv: list[str]) -> None:
    responses, body = split_stdout(parse_args(argv), DUMP + "BODY")
    assert [r.status for r in responses] == [301, 200]
    assert body == "BODY"


@pytest.mark.parametrize("argv", [["u"], ["-i", "-o", "/tmp/f", "u"], ["-D", "/tmp/h", "u"]])
def test_split_stdout_leaves_stdout_alone_when_headers_went_elsewhere(argv: list[str]) -> None:
    assert split_stdout(parse_args(argv), DUMP + "BODY") == ([], DUMP + "BODY")


def test_split_stdout_stops_at_the_body() -> None:
    responses, body = split_stdout(parse_args(["-i", "u"]), "HTTP/1.1 200 OK\r\n\r\nhello\n")
    assert ([r.status for r in responses], body) == ([200], "hello\n")
    responses, body = split_stdout(parse_args(["-i", "u"]), "HTTP/1.1 200 OK\r\nA: b\r\n\r\nx: y\r\n\r\n")
    assert (len(responses), body) == (1, "x: y\r\n\r\n")  # header-like body text stays body


def test_split_stdout_without_blocks_returns_everything() -> None:
    responses, body = split_stdout(parse_args(["-i", "u"]), "no headers here\n")
    assert (responses, body) == ([], "no headers here\n")
