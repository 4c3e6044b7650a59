"""Reading a request's body exactly as HTTP/1.1 frames it, and no further than the size limit.

A body the server cannot frame for certain is refused and the connection closed, so its bytes are
never read as the next request (request smuggling). Content-Length must be one decimal number;
``Transfer-Encoding: chunked`` is decoded; any other transfer coding, or chunked together with a
Content-Length, is refused (RFC 9112, section 6.3).
"""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase

from .status import ApiError

#: The API server's limit on a request body (3 MiB, apiserver's MaxRequestBodyBytes).
MAX_BODY = 3 * 1024 * 1024
#: Longest chunk-size line accepted (hex digits and chunk extensions).
_MAX_LINE = 4096
_MAX_TRAILERS = 64


class Unframed(ApiError):
    """The body could not be read as sent: answered, then the connection is closed."""


def too_large() -> Unframed:
    return Unframed(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}")


def read(headers: Message, rfile: BufferedIOBase, limit: int = MAX_BODY) -> bytes:
    """The body of the request whose ``headers`` were just read from ``rfile``."""
    codings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",")]
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if codings != ["chunked"]:
            raise Unframed(501, "NotImplemented", f"transfer coding {', '.join(codings)} is not implemented")
        if lengths:
            raise Unframed(400, "BadRequest", "a request may not carry both Transfer-Encoding and Content-Length")
        return _chunked(rfile, limit)
    if not lengths:
        return b""
    if len({v.strip() for v in lengths}) != 1 or not lengths[0].strip().isdigit():
        raise Unframed(400, "BadRequest", "the Content-Length header is not a single decimal number")
    length = int(lengths[0].strip())
    if length > limit:
        raise too_large()
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise Unframed(400, "BadRequest", "the request body ended before its Content-Length")
    return data


def _line(rfile: BufferedIOBase) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE or not line.endswith(b"\r\n"):
        raise Unframed(400, "BadRequest", "malformed chunked encoding")
    return line[:-2]


def _chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_text = _line(rfile).split(b";", 1)[0].strip()
        try:
            if not size_text or size_text.startswith((b"-", b"+", b"0x", b"0X")):
                raise ValueError
            size = int(size_text, 16)
        except ValueError:
            raise Unframed(400, "BadRequest", "malformed chunked encoding") from None
        if size == 0:
            break
        total += size
        if total > limit:
            raise too_large()
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.read(2) != b"\r\n":
            raise Unframed(400, "BadRequest", "malformed chunked encoding")
        parts.append(chunk)
    for _ in range(_MAX_TRAILERS):  # trailer fields, up to the empty line that ends the message
        if not _line(rfile):
            return b"".join(parts)
    raise Unframed(400, "BadRequest", "too many trailer fields")
