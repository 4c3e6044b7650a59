"""File-watched xDS: listeners, clusters, routes and secrets as files that a running Envoy reloads.

Envoy reads each resource type through a ``path_config_source`` with a ``watched_directory``: it reloads
the file when a file is moved into that directory. Every write here goes to a temporary file in the same
directory and is renamed into place, so Envoy never sees half a file, and a change needs no restart.

Layout of one proxy's ``xds/`` directory:

- ``lds.json``, ``cds.json``: one DiscoveryResponse each, holding every listener / every cluster;
- ``rds/<name>.json``: one RouteConfiguration per file (an RDS subscription accepts exactly one resource);
- ``sds/<name>.json``: one Secret per file, for the same reason.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import LabkitError

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

Resource = Mapping[str, Any]


class XdsError(LabkitError):
    """An xDS resource handed to the writer is malformed; nothing was written."""


def _filename(name: str) -> str:
    # Route and secret names carry characters such as '|' and ':'; the file name must stay one component.
    return quote(name, safe="") + ".json"


class XdsFiles:
    """The xDS files of one proxy, owned by the proxy's uid so it can read secrets that are private."""

    def __init__(self, root: Path, owner_uid: int | None = None) -> None:
        self.root = root
        self.owner_uid = owner_uid
        self.version = 0
        for d in (root, root / "rds", root / "sds"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._own(d)
        self.lds = root / "lds.json"
        self.cds = root / "cds.json"

    # -- config sources that listeners and clusters point at

    def _source(self, path: Path) -> dict[str, Any]:
        return {
            "path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}},
            "resource_api_version": "V3",
        }

    def lds_source(self) -> dict[str, Any]:
        return self._source(self.lds)

    def cds_source(self) -> dict[str, Any]:
        return self._source(self.cds)

    def rds_source(self, route_config_name: str) -> dict[str, Any]:
        """The ``config_source`` an HttpConnectionManager's ``rds`` block uses for ``route_config_name``."""
        return self._source(self.root / "rds" / _filename(route_config_name))

    def sds_source(self, secret_name: str) -> dict[str, Any]:
        """The ``sds_config`` a TLS context's ``sds_secret_config`` uses for ``secret_name``."""
        return self._source(self.root / "sds" / _filename(secret_name))

    # -- writing

    def apply(
        self,
        *,
        listeners: Iterable[Resource] | None = None,
        clusters: Iterable[Resource] | None = None,
        routes: Iterable[Resource] | None = None,
        secrets: Iterable[Resource] | None = None,
        undelivered_secrets: Iterable[str] = (),
    ) -> str:
        """Replace the given resource types (None leaves a type as it is); returns the new version.

        ``undelivered_secrets`` are secret names a listener or cluster uses that have no content: their
        files hold no resource, so Envoy keeps waiting for them (as for an SDS server that never sends
        one) instead of rejecting a config that points at a missing file.

        Order matters for a running Envoy: secrets and clusters first, then routes, then the listeners
        that refer to them, so no listener ever points at a route file that is not there yet.
        """
        batches = {
            "secrets": _checked(secrets, "secrets"),
            "clusters": _checked(clusters, "clusters"),
            "routes": _checked(routes, "routes"),
            "listeners": _checked(listeners, "listeners"),
        }  # every resource is checked before the first file is written
        self.version += 1
        version = str(self.version)
        if batches["secrets"] is not None:
            self._write_each(self.root / "sds", batches["secrets"], SECRET, version, list(undelivered_secrets))
        if batches["clusters"] is not None:
            self._write(self.cds, _response(batches["clusters"], CLUSTER, version))
        if batches["routes"] is not None:
            self._write_each(self.root / "rds", batches["routes"], ROUTE, version)
        if batches["listeners"] is not None:
            self._write(self.lds, _response(batches["listeners"], LISTENER, version))
        return version

    def empty(self) -> None:
        """Files with no listeners and no clusters, so a fresh Envoy starts (and is ready) right away."""
        if not self.lds.exists():
            self._write(self.lds, _response([], LISTENER, "0"))
        if not self.cds.exists():
            self._write(self.cds, _response([], CLUSTER, "0"))

    def _write_each(
        self, directory: Path, resources: list[Resource], type_url: str, version: str, empty: list[str] | None = None
    ) -> None:
        wanted = {_filename(r["name"]): r for r in resources}
        for filename, resource in wanted.items():
            self._write(directory / filename, _response([resource], type_url, version))
        for name in empty or []:
            wanted.setdefault(_filename(name), {})
            self._write(directory / _filename(name), _response([], type_url, version))
        for stale in directory.glob("*.json"):
            if stale.name not in wanted:
                stale.unlink()

    def _write(self, path: Path, payload: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(payload, indent=1))  # one write: json.dump writes piece by piece
            self._own(tmp)
            os.replace(tmp, path)  # the rename is what the watched directory reacts to
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _own(self, path: Path) -> None:
        if self.owner_uid is not None:
            os.chown(path, self.owner_uid, self.owner_uid)


def _checked(resources: Iterable[Resource] | None, what: str) -> list[Resource] | None:
    if resources is None:
        return None
    out = list(resources)
    names = []
    for i, r in enumerate(out):
        name = r.get("name") if isinstance(r, Mapping) else None
        if not isinstance(name, str) or not name:
            raise XdsError(f"{what}[{i}] has no name; every xDS resource needs one")
        names.append(name)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise XdsError(f"{what}: duplicate names {dupes}")
    return out


def _response(resources: list[Resource], type_url: str, version: str) -> dict[str, Any]:
    return {"version_info": version, "resources": [{"@type": type_url, **r} for r in resources]}
