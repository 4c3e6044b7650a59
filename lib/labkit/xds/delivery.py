"""Getting a translation into an Envoy without istiod: a static bootstrap (what ``envoy --mode
validate`` checks), or file-watched xDS (a change needs no restart: Envoy reloads a file that is
replaced by a rename).

The translation names its config sources as istiod does (ADS, istio-agent's SDS); both forms here
rewrite them: inline route configs and static secrets, or one file per resource type.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .config import EnvoyConfig
from .envoy import Obj
from .errors import TranslationError
from .secrets import Material, secret

#: Where a secret's content comes from (None: the secret has no content here).
MaterialOf = Callable[[str], Material | None]
ADMIN_PORT = 15000  # istio-agent's Envoy admin port (bound to localhost)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _untyped(resource: Obj) -> Obj:
    """A resource outside an Any (static_resources) carries no ``@type``."""
    return {k: v for k, v in resource.items() if k != "@type"}


def _node(config: EnvoyConfig) -> Obj:
    _, _, name, _ = config.node_id.split("~")
    return {"id": config.node_id, "cluster": name.split(".")[0]}


def _admin() -> Obj:
    return {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ADMIN_PORT}}}


def static_bootstrap(config: EnvoyConfig, material: MaterialOf) -> Obj:
    """Everything inline: each HCM's RDS becomes its route config, each SDS reference a static secret."""
    listeners = [_untyped(copy.deepcopy(x)) for x in config.listeners]
    for node in _walk(listeners):
        rds = node.get("rds")
        if isinstance(rds, dict) and "route_config_name" in rds:
            route = config.route(rds["route_config_name"])
            if route is None:
                raise TranslationError(f"listener references route config {rds['route_config_name']!r} it lacks")
            del node["rds"]
            node["route_config"] = _untyped(route)
    clusters = [_untyped(copy.deepcopy(x)) for x in config.clusters]
    for node in _walk([listeners, clusters]):
        if "sds_config" in node and "name" in node:
            del node["sds_config"]  # a static secret of that name
    return {
        "node": _node(config),
        "admin": _admin(),
        "static_resources": {
            "listeners": listeners,
            "clusters": clusters,
            "secrets": [_untyped(secret(name, material(name))) for name in config.secrets],
        },
    }


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _write_atomically(path: Path, data: Obj) -> None:
    """Envoy's file watch reloads on a rename into place, never on a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _source(path: Path) -> Obj:
    return {"path_config_source": {"path": str(path)}, "resource_api_version": "V3"}


def write_file_xds(config: EnvoyConfig, material: MaterialOf, directory: Path) -> Obj:
    """Write lds.json, cds.json, one rds-<name>.json per route config and one sds-<name>.json per
    secret into ``directory``; return the bootstrap that watches them. Writing again with a new
    translation updates a running Envoy in place."""
    directory.mkdir(parents=True, exist_ok=True)
    listeners = copy.deepcopy(config.listeners)
    clusters = copy.deepcopy(config.clusters)
    for node in _walk(listeners):
        rds = node.get("rds")
        if isinstance(rds, dict) and "route_config_name" in rds:
            rds["config_source"] = _source(directory / f"rds-{_safe(rds['route_config_name'])}.json")
    for node in _walk([listeners, clusters]):
        if "sds_config" in node and "name" in node:
            node["sds_config"] = _source(directory / f"sds-{_safe(node['name'])}.json")
    for route in config.routes:
        _write_atomically(directory / f"rds-{_safe(route['name'])}.json", {"resources": [route]})
    for name in config.secrets:
        _write_atomically(directory / f"sds-{_safe(name)}.json", {"resources": [secret(name, material(name))]})
    _write_atomically(directory / "cds.json", {"resources": clusters})
    _write_atomically(directory / "lds.json", {"resources": listeners})
    return {
        "node": _node(config),
        "admin": _admin(),
        "dynamic_resources": {
            "lds_config": _source(directory / "lds.json"),
            "cds_config": _source(directory / "cds.json"),
        },
    }
