"""labkit.curl.request against the bytes the real curl writes for the same command line.

A loopback server records each raw request and answers 200 (403 to CONNECT), so the expected
values are whatever the installed curl sends, never what labkit happens to build.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from labkit.curl import request
from labkit.curl.args import parse_args
from labkit.curl.urls import parse_url


class _Recorder:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = _read_request(conn)
                self.seen.append(data)
                if data.startswith(b"CONNECT"):
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def recorder() -> Iterator[_Recorder]:
    rec = _Recorder()
    yield rec
    rec.close()


def _wire(sent: request.SentRequest) -> bytes:
    lines = [f"{sent.method} {sent.target} HTTP/1.1"] + [f"{k}: {v}" if v else f"{k}:" for k, v in sent.headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + sent.body).encode()


CASES = [
    [],
    ["-d", "a=b"],
    ["-d", "a=b", "-d", "c=d"],
    ["-G", "-d", "a=b"],
    ["-G", "-d", "a=b", "-I"],
    ["-X", "post", "-d", "a=b"],
    ["-X", "PUT", "-G", "-d", "a=b"],
    ["-d", "a=b", "-X", "GET"],
    ["-H", "Content-Type: text/plain", "-H", "X-A: 1", "-d", "a b"],
    ["-H", "X-A: 1", "--json", "{}", "-H", "X-B: 2"],
    ["-H", "X-A: 1", "-H", "User-Agent: foo", "-H", "Host: h", "-H", "Accept: a"],
    ["-H", "Accept:", "-H", "X-E;", "-H", "User-Agent:"],
    ["-e", "http://ref/"],
    ["--data-urlencode", "n=a b&c", "--data-binary", "x\ny"],
    ["--data-raw", "@not-a-file"],
    ["-I"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "(plain)" for c in CASES])
def test_request_matches_real_curl(real_curl, recorder: _Recorder, args: list[str]) -> None:
    url = f"http://127.0.0.1:{recorder.port}/x?z=1"
    before = len(recorder.seen)
    real_curl("-s", "-o", "/dev/null", "-A", "labtest/1", *args, url)
    assert len(recorder.seen) == before + 1
    opts = parse_args(["-A", "labtest/1", *args, url])
    assert _wire(request.build(opts, parse_url(url))) == recorder.seen[-1]


PROXIED = [
    ("http://example.test/path?q=1", []),
    ("http://example.test/", ["-H", "X-A: 1", "-d", "a=b"]),
]


@pytest.mark.parametrize(("url", "args"), PROXIED, ids=[u + " " + " ".join(a) for u, a in PROXIED])
def test_absolute_form_through_a_proxy_matches_real_curl(
    real_curl, recorder: _Recorder, url: str, args: list[str]
) -> None:
    before = len(recorder.seen)
    real_curl("-s", "-o", "/dev/null", "-A", "labtest/1", "-x", f"127.0.0.1:{recorder.port}", *args, url)
    assert len(recorder.seen) == before + 1
    opts = parse_args(["-A", "labtest/1", *args, url])
    assert _wire(request.build(opts, parse_url(url), via_proxy=True)) == recorder.seen[-1]


@pytest.mark.parametrize(("url", "extra"), [("https://example.test/", []), ("http://example.test/", ["-p"])])
def test_connect_matches_real_curl(real_curl, recorder: _Recorder, url: str, extra: list[str]) -> None:
    before = len(recorder.seen)
    run = real_curl("-s", "-A", "labtest/1", "-H", "X-Inner: 1", *extra, "-x", f"127.0.0.1:{recorder.port}", url)
    # curl's man page, EXIT CODES: 56 "Failure in receiving network data" (a refused CONNECT)
    assert run.exit_code == 56
    assert len(recorder.seen) == before + 1
    opts = parse_args(["-A", "labtest/1", "-H", "X-Inner: 1", url])
    assert _wire(request.connect(opts, parse_url(url))) == recorder.seen[-1]


def test_method_rule_has_one_owner() -> None:
    # -G sends the data as a query with GET (man page: -G, --get), which the sim's access log must
    # record too: CurlOptions.effective_method and the simulator both read request.method.
    opts = parse_args(["-G", "-d", "a=b", "http://h/"])
    assert opts.effective_method == request.method(opts) == "GET"
    assert request.body(opts) == ""
