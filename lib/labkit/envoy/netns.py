"""Named network namespaces: create, delete, list, and run a command or open a socket inside one.

Namespaces are made with ``ip netns add`` (a file under ``/run/netns``). Commands enter them with
``nsenter --net=...`` rather than ``ip netns exec``, which would also bind-mount ``/etc/netns/<name>/``
and remount ``/sys``: nothing here reads or writes ``/etc``.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabkitError

RUN_NETNS = Path("/run/netns")
_CLONE_NEWNET = 0x40000000


class NetnsError(LabkitError):
    """A namespace command failed."""


def path(name: str) -> Path:
    return RUN_NETNS / name


def enter_argv(name: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside namespace ``name``."""
    return ["nsenter", f"--net={path(name)}", "--", *argv]


def sh(argv: Sequence[str], *, check: bool = True, timeout: float = 20, input: str | None = None) -> str:
    """Run a setup command; a failure raises with the command and its error output."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def create(name: str) -> None:
    sh(["ip", "netns", "add", name])
    sh(["ip", "-n", name, "link", "set", "lo", "up"])


def delete(name: str) -> None:
    if exists(name):
        sh(["ip", "netns", "delete", name], check=False)


def exists(name: str) -> bool:
    return path(name).exists()


def names() -> list[str]:
    """Every named namespace on the machine (``ip netns list`` prints ``name (id: N)``)."""
    out = sh(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def pids(name: str) -> list[int]:
    """Processes whose network namespace is ``name``."""
    out = sh(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def run(name: str, argv: Sequence[str], **kwargs: object) -> str:
    return sh(enter_argv(name, argv), **kwargs)  # type: ignore[arg-type]


# -- sockets inside a namespace ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def socket_in(name: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket created inside namespace ``name``; it stays there whichever thread uses it later.

    A network namespace is a per-thread property: a short-lived thread switches, creates the socket and
    ends, so no thread of this process ever runs in another namespace afterwards.
    """
    result: list[object] = []

    def make() -> None:
        try:
            with open(path(name), "rb") as target:
                _setns(target.fileno())
            result.append(socket.socket(family, kind))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    t = threading.Thread(target=make, name=f"netns-{name}")
    t.start()
    t.join()
    got = result[0]
    if isinstance(got, BaseException):
        raise NetnsError(f"could not open a socket in network namespace {name}: {got}")
    assert isinstance(got, socket.socket)
    return got


def connect_in(name: str, host: str, port: int, timeout: float = 2.0) -> socket.socket:
    s = socket_in(name)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    return s


def enter_current_process(name: str) -> None:
    """Move the calling (single-threaded, freshly forked) process into namespace ``name``."""
    with open(path(name), "rb") as target:
        _setns(target.fileno())
