"""The applications a lab runs in its pods, as real processes in the pod's namespace.

Only nginx is run (lab 05's external server, ``/usr/sbin/nginx``): its configuration comes from the
ConfigMap the pod mounts, with the mounted paths and its pid and temp paths rewritten into the pod's
directory. Another image is left as a bare namespace: a command run in it is the machine's own.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ..errors import LabkitError
from ..sim.nginx import is_nginx
from ..sim.squid import is_squid
from . import netns, volumes
from .plane import Pod
from .rundir import RunDir

NGINX = "/usr/sbin/nginx"
NGINX_CONF = "nginx.conf"


class AppError(LabkitError):
    """An application of a pod did not start."""


def container_of(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in pod["spec"].get("containers") or [] if c["name"] != "istio-proxy"), None)


class App:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

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
    """Refuse, by name, an application pod this backend cannot run: Squid (lab 08's forward proxy) is not
    built here, and nginx needs the machine's nginx and volume kinds this backend writes."""
    if is_squid(pod):
        raise AppError(
            f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']} runs Squid, which the envoy backend "
            "does not run",
            hint="run this lab with --backend sim, or on a kind cluster (--backend kube)",
        )
    if not is_nginx(pod):
        return
    if shutil.which(NGINX) is None and not Path(NGINX).exists():
        raise AppError(
            f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']} runs nginx, and {NGINX} is missing",
            hint="apt-get install nginx-light",
        )
    container = container_of(pod)
    if container is not None:
        volumes.check(pod, container["name"])


def start(store: Any, pod: dict[str, Any], real: Pod, run: RunDir) -> App | None:
    """Start the pod's application when it is one that runs here (nginx); None otherwise."""
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
    time.sleep(0.2)
    if process.poll() is not None:
        raise AppError(
            f"nginx in pod {meta['namespace']}/{meta['name']} exited with code {process.returncode}: "
            + " | ".join(log.read_text(errors="replace").splitlines()[-5:])
        )
    return App(process, log)
