"""pods/exec over SPDY/3.1, as kubectl before 1.30 (Debian's kubernetes-client among them) speaks it.

The client here does what client-go's SPDY executor does: upgrade, open one stream per channel
(SYN_STREAM with a ``streamtype`` header, compressed with SPDY/3's dictionary), wait for each reply,
then read every stream to its FIN.
"""

from __future__ import annotations

import json
import socket
import struct
import zlib
from typing import BinaryIO

import pytest

from labkit.serve import ApiServer, spdy


def test_the_header_dictionary_is_spdy3s() -> None:
    # The length and Adler-32 the SPDY/3 draft gives; a wrong byte would break every header block.
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == spdy.DICTIONARY_ADLER32


def test_header_blocks_round_trip_through_the_dictionary() -> None:
    block = spdy.encode_headers({"streamtype": "stdout", "port": "80"})
    squeezed = zlib.compressobj(zdict=spdy.DICTIONARY)
    data = squeezed.compress(block) + squeezed.flush(zlib.Z_SYNC_FLUSH)
    assert spdy.decode_headers(zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(data)) == {
        "streamtype": "stdout",
        "port": "80",
    }


def read_frame(rfile: BinaryIO) -> tuple[bool, int, int, bytes]:
    """(is_control, type or stream id, flags, payload)."""
    first, word = struct.unpack(">II", rfile.read(8))
    payload = rfile.read(word & 0xFFFFFF)
    control = bool(first & 0x80000000)
    return control, (first & 0xFFFF) if control else first, word >> 24, payload


class SpdyClient:
    def __init__(self, server: ApiServer, path: str, protocols: list[str]) -> None:
        plain = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        self.sock = server.client_context().wrap_socket(plain, server_hostname="127.0.0.1")
        self.rfile = self.sock.makefile("rb")
        lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: Upgrade", "Upgrade: SPDY/3.1"]
        lines += [f"Authorization: Bearer {server.token}"]
        lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
        self.sock.sendall(("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode())
        self.head = b""
        while not self.head.endswith(b"\r\n\r\n"):
            self.head += self.rfile.read(1)
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)

    def open(self, stream_id: int, kind: str) -> None:
        block = self.deflate.compress(spdy.encode_headers({"streamtype": kind})) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(spdy.control_frame(spdy.SYN_STREAM, struct.pack(">IIH", stream_id, 0, 0) + block))
        control, kind_, _, payload = read_frame(self.rfile)
        assert (control, kind_) == (True, spdy.SYN_REPLY)
        assert struct.unpack(">I", payload[:4])[0] == stream_id
        assert spdy.decode_headers(self.inflate.decompress(payload[4:])) == {}

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


def exec_path(pod: str, argv: list[str]) -> str:
    command = "&".join(f"command={a.replace(':', '%3A').replace('/', '%2F')}" for a in argv)
    return f"/api/v1/namespaces/default/pods/{pod}/exec?{command}&container=sleep&stdout=true&stderr=true"


@pytest.mark.parametrize(
    ("argv", "stdout_start", "status"),
    [
        (["curl", "-sSI", "https://www.baidu.com"], "HTTP/1.1 200 OK", {"status": "Success"}),
        (["curl", "-sS", "http://nope.invalid"], "", {"reason": "NonZeroExitCode"}),
    ],
)
def test_exec_over_spdy_streams_the_output_and_the_exit_status(server, pod, argv, stdout_start, status) -> None:
    client = SpdyClient(server, exec_path(pod, argv), ["v4.channel.k8s.io", "channel.k8s.io"])
    try:
        assert client.head.startswith(b"HTTP/1.1 101 ")
        assert b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n" in client.head
        ids = {"error": 1, "stdout": 3, "stderr": 5}
        for kind, stream_id in ids.items():
            client.open(stream_id, kind)
        client.sock.sendall(spdy.control_frame(spdy.PING, struct.pack(">I", 7)))
        data: dict[int, bytes] = {i: b"" for i in ids.values()}
        finished: set[int] = set()
        pinged = False
        for _ in range(50):  # bounded: a few DATA frames, a FIN per stream, the ping's echo
            control, kind, flags, payload = read_frame(client.rfile)
            if control:
                pinged = pinged or (kind == spdy.PING and payload == struct.pack(">I", 7))
                continue
            data[kind] += payload
            if flags & spdy.FLAG_FIN:
                finished.add(kind)
            if finished == set(ids.values()):
                break
    finally:
        client.close()
    assert pinged and finished == set(ids.values())
    assert data[ids["stdout"]].decode().startswith(stdout_start)
    sent = json.loads(data[ids["error"]])
    assert status.items() <= sent.items()
    if sent["status"] == "Failure":
        assert sent["details"]["causes"] == [{"reason": "ExitCode", "message": "6"}]
        assert data[ids["stderr"]] == b"curl: (6) Could not resolve host: nope.invalid\n"


def test_spdy_without_the_v4_protocol_is_refused(server, pod) -> None:
    client = SpdyClient(server, exec_path(pod, ["curl", "--version"]), ["channel.k8s.io"])
    try:
        assert client.head.startswith(b"HTTP/1.1 400 ")
    finally:
        client.close()
