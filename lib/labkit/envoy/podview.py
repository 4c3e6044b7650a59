"""What a pod's commands see of the file system: the lab's /etc/hosts, /etc/resolv.conf and CA bundle.

Each command runs in a private mount namespace (``unshare --mount``, propagation private) where the run's
files are bind-mounted over ``/etc/hosts``, ``/etc/resolv.conf`` and the system CA bundle. The host's
``/etc`` is never written, and ``ip netns exec`` (which would read ``/etc/netns/<name>/``) is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import netns
from .preflight import CA_BUNDLE

#: No DNS server answers inside the lab network: a name missing from /etc/hosts fails fast, as an
#: unknown host does in a cluster (curl exit 6).
RESOLV_CONF = "# labkit envoy backend: names come from /etc/hosts\nnameserver 127.0.0.1\noptions attempts:1 timeout:1\n"

# Positional parameters, never interpolated into the script: $1 hosts, $2 resolv.conf, $3 CA bundle.
_MOUNT_SCRIPT = (
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && '
    'mount --bind "$3" "$4" && shift 4 && exec "$@"'
)


@dataclass(frozen=True)
class PodView:
    hosts: Path
    resolv_conf: Path
    ca_bundle: Path
    hostname: str
    own_ip: str

    @classmethod
    def write(
        cls, directory: Path, hostname: str, own_ip: str, entries: Iterable[tuple[str, str]], ca_pem: bytes
    ) -> PodView:
        view = cls(directory / "hosts", directory / "resolv.conf", directory / "ca-certificates.crt", hostname, own_ip)
        view.write_hosts(entries)
        view.resolv_conf.write_text(RESOLV_CONF)
        view.ca_bundle.write_bytes(ca_pem)
        for f in (view.hosts, view.resolv_conf, view.ca_bundle):
            f.chmod(0o644)
        return view

    def write_hosts(self, entries: Iterable[tuple[str, str]]) -> None:
        """(Re)write the hosts file in place: a running Envoy's bind mount holds this very inode."""
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"{self.own_ip}\t{self.hostname}"]
        lines += [f"{ip}\t{name}" for name, ip in entries]
        with open(self.hosts, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def wrap(self, ns: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run in namespace ``ns`` with this view mounted over the host's files."""
        inner = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _MOUNT_SCRIPT, "pod-view",
            str(self.hosts), str(self.resolv_conf), str(self.ca_bundle), str(CA_BUNDLE),
            *argv,
        ]  # fmt: skip
        return netns.enter_argv(ns, inner)
