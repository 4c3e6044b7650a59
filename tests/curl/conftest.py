"""A loopback HTTP server with fixed answers, and a way to run the real curl against it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CURL = shutil.which("curl")
SH = shutil.which("sh")

JSON_BODY = '{"ok": true}\n'


class _Handler(BaseHTTPRequestHandler):
    """Deterministic answers: fixed Server and Date so two runs print the same bytes."""

    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "labtest/1.0"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Mon, 01 Jan 2024 00:00:00 GMT"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, with_body: bool) -> None:
        path = self.path
        if path.startswith("/redirect"):
            self._send(301, [("Location", "/get")], "")
        elif path.startswith("/chain"):
            self._send(302, [("Location", "/redirect")], "")
        elif path.startswith("/status/"):
            self._send(int(path.split("/")[2]), [("Content-Type", "text/plain")], "nope\n", with_body)
        elif path.startswith("/text"):
            self._send(200, [("Content-Type", "text/plain")], "line one\nline two", with_body)
        else:
            self._send(200, [("Content-Type", "application/json")], JSON_BODY, with_body)

    def _send(self, status: int, headers: list[tuple[str, str]], body: str, with_body: bool = True) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self._answer(True)


@dataclass(frozen=True)
class Server:
    base: str
    port: int
    json_body: str = JSON_BODY  # what /get answers


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    yield Server(f"http://127.0.0.1:{port}", port)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A loopback port nothing listens on: bind, note the port, close."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str
    exit_code: int


def run(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command and keep its output byte-exact (no newline translation)."""
    proc = subprocess.run(argv, capture_output=True, timeout=30, env=env)
    return Run(proc.stdout.decode(), proc.stderr.decode(), proc.returncode)


@pytest.fixture
def shell_run():
    """Run an argv through the OS (sh and curl present), keeping output byte-exact."""
    if CURL is None or SH is None:
        pytest.skip("needs sh and curl")
    return run


@pytest.fixture
def curl_path() -> str:
    if CURL is None:
        pytest.skip("curl is not installed")
    return CURL


@pytest.fixture
def real_curl():
    if CURL is None:
        pytest.skip("curl is not installed")

    def call(*args: str) -> Run:
        return run([CURL, *args])

    return call
