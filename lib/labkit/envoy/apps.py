"""The applications a lab runs in its pods, as real processes in the pod's namespace.

Two are run, each the machine's own build, configured from the ConfigMap the pod mounts:

- nginx (lab 05's external server, ``/usr/sbin/nginx``): the mounted paths and its pid and temp paths
  are rewritten into the pod's directory;
- Squid (lab 08's forward proxy, ``/usr/sbin/squid``), run as the unprivileged ``proxy`` user in the
  foreground: the mounted ``squid.conf`` as it is, followed by the places its files go (pid file, cache
  and access logs, core dumps) in the pod's directory. ``/var/log/squid`` in a command run in the
  container is that directory, and the container's log is Squid's access log.

Another image is left as a bare namespace: a command run in it is the machine's own.
"""

from __future__ import annotations

import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ..errors import LabkitError
from ..sim.nginx import is_nginx
from ..sim.squid import is_squid
from ..sim.squid import parse as parse_squid_conf
from . import netns, volumes
from .plane import Pod
from .rundir import RunDir

NGINX = "/usr/sbin/nginx"
NGINX_CONF = "nginx.conf"
#: How long nginx may take to open its ports (its pid file appears then).
NGINX_START_TIMEOUT = 10.0
SQUID = "/usr/sbin/squid"
SQUID_CONF = "squid.conf"
SQUID_USER = "proxy"  # the user Debian's squid package runs Squid as
SQUID_LOGS = "/var/log/squid"
#: How long Squid may take to listen on its port.
SQUID_START_TIMEOUT = 10.0


class AppError(LabkitError):
    """An application of a pod did not start."""


def container_of(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in pod["spec"].get("containers") or [] if c["name"] != "istio-proxy"), None)


class App:
    def __init__(
        self, process: subprocess.Popen[bytes], log: Path, paths: dict[str, Path] | None = None, container: str = ""
    ) -> None:
        self.process = process
        self.log = log
        #: Directories of the container that are this pod's own (``/var/log/squid``), like its mounts.
        self.paths = paths or {}
        self.container = container

    def lines(self) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(3)


def check(pod: dict[str, Any]) -> None:
    """Refuse, by name, an application pod this backend cannot run: nginx and Squid need the machine's
    own build (and Squid its ``proxy`` user), and the volume kinds this backend writes."""
    meta = pod["metadata"]
    if is_squid(pod):
        if not Path(SQUID).exists():
            raise AppError(
                f"pod {meta['namespace']}/{meta['name']} runs Squid, and {SQUID} is missing",
                hint="apt-get install squid (or run this lab with --backend sim)",
            )
        if _uid(SQUID_USER) is None:
            raise AppError(
                f"pod {meta['namespace']}/{meta['name']} runs Squid as user {SQUID_USER}, which this machine lacks",
                hint="apt-get install squid creates it",
            )
    elif not is_nginx(pod):
        return
    elif shutil.which(NGINX) is None and not Path(NGINX).exists():
        raise AppError(
            f"pod {meta['namespace']}/{meta['name']} runs nginx, and {NGINX} is missing",
            hint="apt-get install nginx-light",
        )
    container = container_of(pod)
    if container is not None:
        volumes.check(pod, container["name"])


def _uid(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def start(store: Any, pod: dict[str, Any], real: Pod, run: RunDir) -> App | None:
    """Start the pod's application when it is one that runs here (nginx, Squid); None otherwise."""
    if is_squid(pod):
        return _start_squid(store, pod, real, run)
    if not is_nginx(pod):
        return None
    check(pod)
    container = container_of(pod)
    assert container is not None
    meta = pod["metadata"]
    directory = run.subdir(f"pods/{meta['namespace']}.{meta['name']}/app", mode=0o700)
    mounts = volumes.write(store, pod, container["name"], directory / "volumes")
    source = next((d / NGINX_CONF for d in mounts.values() if (d / NGINX_CONF).is_file()), None)
    if source is None:
        raise AppError(f"pod {meta['namespace']}/{meta['name']}: no mounted {NGINX_CONF} to run nginx with")
    # The pid file and temp paths first: the volume directories are under /tmp themselves.
    text = volumes.rewrite_all(source.read_text().replace('"/tmp/', f'"{directory}/'), mounts)
    conf = directory / NGINX_CONF
    conf.write_text(text)
    log = directory / "nginx.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            netns.enter_argv(real.ns, [NGINX, "-c", str(conf), "-p", str(directory), "-g", "daemon off;"]),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    run.record(process.pid, f"nginx {meta['name']}.{meta['namespace']}")
    # nginx writes its pid file once its listening sockets are open: that is the readiness to wait for
    # (a config without a pid directive gets the old fixed wait).
    found = re.search(r"^\s*pid\s+([^;]+);", text, re.M)
    pid = Path(found.group(1).strip().strip("\"'")) if found else None
    deadline = time.monotonic() + (NGINX_START_TIMEOUT if pid else 0.2)
    while process.poll() is None and time.monotonic() < deadline and not (pid and pid.exists()):
        time.sleep(0.02)
    if process.poll() is not None or (pid and not pid.exists()):
        raise AppError(
            f"nginx in pod {meta['namespace']}/{meta['name']} "
            + (f"exited with code {process.returncode}: " if process.poll() is not None else "did not start: ")
            + " | ".join(log.read_text(errors="replace").splitlines()[-5:])
        )
    return App(process, log)


def _start_squid(store: Any, pod: dict[str, Any], real: Pod, run: RunDir) -> App:
    check(pod)
    container = container_of(pod)
    assert container is not None
    meta = pod["metadata"]
    uid = _uid(SQUID_USER)
    assert uid is not None
    directory = run.subdir(f"pods/{meta['namespace']}.{meta['name']}/app", mode=0o755, owner_uid=uid)
    mounts = volumes.write(store, pod, container["name"], directory / "volumes")
    source = next((d / SQUID_CONF for d in mounts.values() if (d / SQUID_CONF).is_file()), None)
    if source is None:
        raise AppError(f"pod {meta['namespace']}/{meta['name']}: no mounted {SQUID_CONF} to run Squid with")
    text = source.read_text()
    logs = run.subdir(f"pods/{meta['namespace']}.{meta['name']}/app/log", mode=0o755, owner_uid=uid)
    # Where Squid's own files go; the directives the mounted file sets stay as they are.
    text += (
        "\n# labkit: this pod's files\n"
        f"pid_filename {directory}/squid.pid\n"
        f"cache_log stdio:{logs}/cache.log\n"
        f"access_log stdio:{logs}/access.log squid\n"
        f"coredump_dir {directory}\n"
        "netdb_filename none\n"
        "pinger_enable off\n"
    )
    conf = directory / SQUID_CONF
    conf.write_text(text)
    conf.chmod(0o644)
    as_proxy = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    with open(directory / "squid.out", "ab") as out:
        process = subprocess.Popen(
            real.view.wrap(real.ns, [*as_proxy, SQUID, "-N", "-f", str(conf)]),  # -N: in the foreground
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    run.record(process.pid, f"squid {meta['name']}.{meta['namespace']}")
    _wait_listening(process, real, parse_squid_conf(source.read_text()).port, logs / "cache.log", meta)
    return App(process, logs / "access.log", {SQUID_LOGS: logs}, container["name"])


def _wait_listening(process: subprocess.Popen[bytes], real: Pod, port: int, log: Path, meta: dict[str, Any]) -> None:
    deadline = time.monotonic() + SQUID_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AppError(f"Squid in pod {meta['namespace']}/{meta['name']} exited with code {process.returncode}: "
                           + " | ".join(_tail(log)))  # fmt: skip
        try:
            netns.connect_in(real.ns, real.ip, port, timeout=0.5).close()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AppError(f"Squid in pod {meta['namespace']}/{meta['name']} is not listening on {port} after "
                           f"{SQUID_START_TIMEOUT:g} s: " + " | ".join(_tail(log)))  # fmt: skip
        time.sleep(0.05)


def _tail(log: Path, lines: int = 5) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ["(no log)"]
