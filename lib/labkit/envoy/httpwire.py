"""HTTP/1.1 on a socket, for the internet's servers: read one request, write one reply.

Just enough of RFC 9112 for what curl and Envoy send: a request line, headers, and a body framed by
Content-Length or chunked encoding. Anything else is answered with 400 by the caller.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        return conn != "close" if self.version == "HTTP/1.1" else conn == "keep-alive"


class Reader:
    """Buffered reads from a (possibly TLS) socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def until(self, marker: bytes, limit: int) -> bytes | None:
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise BadRequest("header section too large")
            if not self._fill():
                if self.buf:
                    raise BadRequest("connection closed mid-request")
                return None
        head, _, self.buf = self.buf.partition(marker)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise BadRequest("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_request(reader: Reader, on_continue: socket.socket | None = None) -> RawRequest | None:
    """The next request on the connection, or None when the client closed it cleanly."""
    if not reader.buf and not reader._fill():
        return None
    if not reader.buf[:1].isupper():
        # A request line starts with its method, an upper-case token. Servers such as nginx answer 400 on
        # the first byte that can't start one (a TLS ClientHello's 0x16, say) rather than wait for more.
        raise BadRequest(f"not an HTTP request: starts with {reader.buf[:1]!r}")
    head = reader.until(b"\r\n\r\n", MAX_HEAD)
    if head is None:
        return None
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    req = RawRequest(parts[0], parts[1], parts[2], tuple(headers), b"")
    if (req.header("expect") or "").lower() == "100-continue" and on_continue is not None:
        on_continue.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if (req.header("transfer-encoding") or "").lower() == "chunked":
        body = _chunked(reader)
    else:
        length = req.header("content-length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            raise BadRequest(f"bad content-length {length!r}")
        body = reader.exactly(int(length))
    return RawRequest(req.method, req.target, req.version, req.headers, body)


def _chunked(reader: Reader) -> bytes:
    body = b""
    while True:
        size_line = reader.until(b"\r\n", 1024)
        if size_line is None:
            raise BadRequest("connection closed mid-body")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            reader.until(b"\r\n", MAX_HEAD)  # trailers end with an empty line
            return body
        body += reader.exactly(size)
        reader.exactly(2)
        if len(body) > MAX_BODY:
            raise BadRequest("body too large")


_NO_BODY_STATUS = {204, 304}


def encode_reply(status: int, reason: str, headers: tuple[tuple[str, str], ...], body: bytes, *, head: bool) -> bytes:
    """The reply on the wire. Content-Length is computed from the encoded body (a handler may count
    characters, not bytes), except for HEAD, whose length is the one a GET would have had."""
    lines = [f"HTTP/1.1 {status} {reason}".rstrip()]
    given = next((v for k, v in headers if k.lower() == "content-length"), None)
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
    if status not in _NO_BODY_STATUS:
        lines.append(f"content-length: {given if head and given is not None else len(body)}")
    payload = b"" if head or status in _NO_BODY_STATUS else body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + payload


def bad_request() -> bytes:
    body = b"<html><body><h1>400 Bad Request</h1></body></html>\n"
    return encode_reply(400, "Bad Request", (("content-type", "text/html"), ("connection", "close")), body, head=False)
