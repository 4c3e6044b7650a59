"""The internet namespace: real servers at the world's addresses, answering as the world says.

Every server of the simulator's ``World`` gets its address in the internet namespace and a listener on
each of its ports, with TLS (a certificate from a lab CA, for the names the world gives it) where the
world says so. What each request gets back comes from the world's own behaviour
(``ExternalHost.accept``), so the simulator and the real data plane answer alike. One forked process
serves every host; it inherits the world object as it is, with no need to serialise handlers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import NotReady
from ..sim.messages import TLS_FAILED, Connection, Outcome, Reply, Request
from ..sim.tls import ClientTls
from . import h2wire, httpwire, netns
from .rundir import RunDir
from .worldview import Port, Server

TLS_RECORD_HANDSHAKE = 0x16  # the first byte of a TLS ClientHello


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


def answer(host: Any, conn: Connection) -> Outcome:
    """The world's answer to one connection: the one place that calls into the world's behaviour."""
    return host.accept(conn)


def _request(raw: httpwire.RawRequest, scheme: str) -> Request:
    target = raw.target
    if "://" in target:  # absolute form: keep the path, the Host header names the authority
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Request(
        method=raw.method,
        authority=raw.header("host") or "",
        path=target,
        headers=tuple((k, v) for k, v in raw.headers),
        scheme=scheme,
        body=raw.body.decode("utf-8", "replace"),
    )


class _Servers:
    """The child process: one accept loop per (address, port), one thread per connection."""

    def __init__(self, servers: list[Server], certs: dict[str, ServerCert]) -> None:
        self.servers = servers
        self.contexts: dict[tuple[str, int], ssl.SSLContext] = {}
        self._sni: dict[int, str] = {}
        for server in servers:
            for port in server.ports:
                if not port.tls:
                    continue
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(certs[server.name].cert, certs[server.name].key)
                # ALPN: h2 only where the world says the port negotiates HTTP/2.
                ctx.set_alpn_protocols(["h2", "http/1.1"] if port.http2 else ["http/1.1"])
                ctx.sni_callback = self._remember_sni
                self.contexts[(server.name, port.number)] = ctx

    def _remember_sni(self, sslsock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        if name:
            self._sni[id(sslsock)] = name

    def serve(self) -> None:
        for server in self.servers:
            for port in server.ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((server.ip, port.number))
                sock.listen(128)
                threading.Thread(target=self._accept_loop, args=(sock, server, port), daemon=True).start()

    def _accept_loop(self, sock: socket.socket, server: Server, port: Port) -> None:
        while True:
            client, peer = sock.accept()
            threading.Thread(target=self._handle, args=(client, peer, server, port), daemon=True).start()

    def _handle(self, client: socket.socket, peer: tuple[str, int], server: Server, port: Port) -> None:
        try:
            with client:
                client.settimeout(60)
                first = client.recv(1, socket.MSG_PEEK)
                if not first:
                    return
                speaks_tls = first[0] == TLS_RECORD_HANDSHAKE
                base = Connection(src_ip=peer[0], dst_ip=server.ip, dst_port=port.number, src_port=peer[1])
                if speaks_tls and port.tls:
                    with self.contexts[(server.name, port.number)].wrap_socket(client, server_side=True) as tls_sock:
                        sni = self._sni.pop(id(tls_sock), None)
                        alpn = tls_sock.selected_alpn_protocol()
                        tls = ClientTls(sni=sni, alpn=(alpn,) if alpn else ())
                        if alpn == "h2":
                            h2wire.serve(tls_sock, lambda req: self._reply(base, server.host, tls, req))
                        else:
                            self._exchange(tls_sock, base, server.host, tls, "https")
                elif speaks_tls:
                    # A ClientHello on a plain port: the world decides; an HTTP server answers in plain text.
                    base.tls = ClientTls(sni=None)
                    out = answer(server.host, base)
                    if out.failure == TLS_FAILED:
                        client.sendall(httpwire.bad_request())
                else:
                    # Plain HTTP, also on a TLS port: the world answers that (400, as nginx does).
                    self._exchange(client, base, server.host, None, "http")
        except (OSError, ssl.SSLError, httpwire.BadRequest, ValueError):
            return

    @staticmethod
    def _reply(base: Connection, host: Any, tls: ClientTls | None, request: Request) -> Reply | None:
        conn = Connection(
            src_ip=base.src_ip, dst_ip=base.dst_ip, dst_port=base.dst_port, src_port=base.src_port,
            tls=tls, request=request,
        )  # fmt: skip
        return answer(host, conn).reply

    def _exchange(self, sock: socket.socket, base: Connection, host: Any, tls: ClientTls | None, scheme: str) -> None:
        reader = httpwire.Reader(sock)
        while True:
            try:
                raw = httpwire.read_request(reader, on_continue=sock)
            except httpwire.BadRequest:
                sock.sendall(httpwire.bad_request())
                return
            if raw is None:
                return
            reply = self._reply(base, host, tls, _request(raw, scheme))
            if reply is None:
                return  # the world says the connection fails: close it
            if reply.delay:
                time.sleep(reply.delay)  # real time: /delay/5 takes five seconds
            sock.sendall(
                httpwire.encode_reply(
                    reply.status, reply.reason, reply.headers, reply.body.encode("utf-8"), head=raw.method == "HEAD"
                )
            )
            closes = (reply.header("connection") or "").lower() == "close"
            if closes or not raw.keep_alive:
                return


class Internet:
    """The internet namespace's server process."""

    def __init__(self, servers: list[Server], certs: dict[str, ServerCert], ns: str, run: RunDir) -> None:
        self.servers = servers
        self.certs = certs
        self.ns = ns
        self.run = run
        self.pid: int | None = None
        self.log_path = run.path / "internet.log"

    def addresses(self) -> list[str]:
        return sorted({server.ip for server in self.servers})

    def start(self, timeout: float = 10.0) -> None:
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns into the caller's code
            _child(self, log_fd)
        os.close(log_fd)
        self.pid = pid
        self.run.record(pid, "internet servers")
        self._wait_listening(timeout)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = [(server, port.number) for server in self.servers for port in server.ports]
        while pending:
            server, port = pending[0]
            try:
                netns.connect_in(self.ns, server.ip, port, timeout=0.5).close()
                pending.pop(0)
                continue
            except OSError:
                pass
            done, _status = os.waitpid(self.pid, os.WNOHANG) if self.pid else (0, 0)
            if done:
                self.pid = None
                raise NotReady(f"the internet servers exited at start; see {self.log_path}:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise NotReady(f"{server.name}:{port} is not listening after {timeout:g} s:\n{_tail(self.log_path)}")
            time.sleep(0.02)

    def stop(self, grace: float = 3.0) -> None:
        pid, self.pid = self.pid, None
        if pid is None:
            return
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.run.forget(pid)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child(internet: Internet, log_fd: int) -> None:  # pragma: no cover - runs in the forked process
    code = 0
    try:
        # The parent's exit hooks (atexit, its SIGTERM handler) must not run a second time in here.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # A notebook kernel's sys.stdout/stderr are its own stream objects (with threads the fork did not
        # copy): write to the log file directly instead.
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.setsid()
        netns.enter_current_process(internet.ns)
        _Servers(internet.servers, internet.certs).serve()
        _block_forever()
    except BaseException as exc:
        print(f"internet servers failed: {exc!r}", file=sys.stderr, flush=True)
        code = 1
    finally:
        os._exit(code)


def _block_forever(pause: Callable[[], None] = signal.pause) -> None:
    while True:
        pause()
