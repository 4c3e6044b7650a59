"""Exec output over SPDY/3.1, the stream protocol kubectl used for exec before it switched to websockets.

kubectl up to 1.29 (and Debian's ``kubernetes-client`` package, 1.20) only speaks SPDY for exec:
it upgrades the connection, opens one SPDY stream per channel (a SYN_STREAM whose ``streamtype``
header says error, stdout, stderr, stdin or resize), waits for each SYN_REPLY, then reads the streams
to their end. No maintained Python library implements SPDY (it was superseded by HTTP/2), so this is
the minimal server side by hand: frame headers, zlib-compressed header blocks with SPDY/3's preset
dictionary, replies, pings and DATA frames, and nothing else (no flow control: the output is small).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import zlib
from collections.abc import Iterable
from io import BufferedIOBase

UPGRADE = "SPDY/3.1"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
#: Largest DATA frame payload sent at once.
CHUNK = 16384
#: Seconds the client gets to open the streams it asked for (the kubelet waits 30 s too).
STREAM_WAIT = 30.0
CLOSE_WAIT = 2.0

_NAMES = (  # header names and values of SPDY/3's dictionary, each stored with a 4-byte length
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age "
    "allow authorization cache-control connection content-base content-encoding content-language content-length "
    "content-location content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status"
)
_WORDS = [*_NAMES.split(" "), "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
#: The preset zlib dictionary of SPDY/3 header blocks (draft 3, section 2.6.10.1).
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
DICTIONARY_ADLER32 = 0xE3C6A7C2


class ProtocolError(Exception):
    pass


def _read_exact(rfile: BufferedIOBase, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = rfile.read(n - len(data))
        if not chunk:
            raise EOFError("the SPDY connection closed")
        data += chunk
    return data


def encode_headers(headers: dict[str, str]) -> bytes:
    block = struct.pack(">I", len(headers))
    for name, value in headers.items():
        block += struct.pack(">I", len(name)) + name.lower().encode() + struct.pack(">I", len(value)) + value.encode()
    return block


def decode_headers(block: bytes) -> dict[str, str]:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        offset, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, offset)
            name = block[offset + 4 : offset + 4 + n].decode()
            offset += 4 + n
            (n,) = struct.unpack_from(">I", block, offset)
            out[name] = block[offset + 4 : offset + 4 + n].decode()
            offset += 4 + n
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"bad SPDY header block: {exc}") from None
    return out


def control_frame(kind: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload


class SpdyExec:
    """The server end of one upgraded exec connection: accepts the client's streams, writes the output."""

    def __init__(self, sock: socket.socket, rfile: BufferedIOBase, expected: Iterable[str]) -> None:
        self.sock = sock
        self.rfile = rfile
        self.expected = set(expected)
        self.streams: dict[str, int] = {}
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="exec-spdy-reader", daemon=True)

    def start(self) -> None:
        self._reader.start()

    def wait_for_streams(self, timeout: float = STREAM_WAIT) -> bool:
        """True once every stream the request asked for is open."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.expected <= set(self.streams) or self._closed.is_set(), timeout
            ) and self.expected <= set(self.streams)

    def _write(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def _read(self) -> None:
        try:
            while True:
                head = _read_exact(self.rfile, 8)
                first, word = struct.unpack(">II", head)
                flags, length = word >> 24, word & 0xFFFFFF
                payload = _read_exact(self.rfile, length)
                if first & 0x80000000:
                    self._control(first & 0xFFFF, flags, payload)
                # DATA from the client (stdin) is read and dropped: simulated commands read no input.
        except (EOFError, OSError, ProtocolError, zlib.error):
            pass
        finally:
            self._closed.set()
            with self._changed:
                self._changed.notify_all()

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SYN_STREAM:
            (stream_id,) = struct.unpack_from(">I", payload, 0)
            stream_id &= 0x7FFFFFFF
            headers = decode_headers(self._inflate.decompress(payload[10:]))
            block = self._deflate.compress(encode_headers({})) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self._write(control_frame(SYN_REPLY, struct.pack(">I", stream_id) + block))
            with self._changed:
                self.streams[headers.get("streamtype", "")] = stream_id
                self._changed.notify_all()
        elif kind == PING:
            self._write(control_frame(PING, payload))
        elif kind == GOAWAY:
            raise EOFError("the client said goodbye")
        elif kind in (SYN_REPLY, HEADERS):
            self._inflate.decompress(payload[4:])  # keep the shared zlib stream in step
        # RST_STREAM, SETTINGS, WINDOW_UPDATE: nothing to do for output this small.

    def send(self, channel: int, data: bytes) -> None:
        name = {1: "stdout", 2: "stderr", 3: "error"}.get(channel)
        stream_id = self.streams.get(name or "")
        if stream_id is None or self._closed.is_set():
            return
        for start in range(0, len(data), CHUNK):
            self._write(data_frame(stream_id, data[start : start + CHUNK]))

    def finish(self) -> None:
        """End every stream (FIN), then wait for the client to hang up."""
        try:
            for stream_id in sorted(self.streams.values()):
                self._write(data_frame(stream_id, b"", fin=True))
        except OSError:
            pass
        self._closed.wait(CLOSE_WAIT)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(CLOSE_WAIT)

    def abort(self) -> None:
        """Drop the connection as a dying server does: no close frame, no end of stream."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
