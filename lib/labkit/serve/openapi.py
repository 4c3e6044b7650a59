"""Just enough OpenAPI for kubectl: which operations exist and that the server validates fields itself.

kubectl validates what it sends (``--validate=strict`` by default). It reads ``/openapi/v3`` to learn
whether the server supports the ``fieldValidation`` query parameter; when it does, kubectl asks the
server to validate instead of doing it locally, and the server answers with ``labkit.schema.problems``
like every other write. So the documents list the paths and their parameters, with no schemas: without
a schema, kubectl builds patches from its own built-in types, as it does for any unknown kind. Older
kubectl (before 1.27) reads ``/openapi/v2`` instead and skips validation of kinds it finds no schema for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ..schema import K8S_VERSION
from .resources import Resource

#: kubectl < 1.27 asks for the v2 document as protobuf; an empty message is a valid, empty document.
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(r: Resource, version: str, action: str, params: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "operationId": f"{action}{r.kind}",
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": version, "kind": r.kind},
    }


def _paths(r: Resource, version: str) -> dict[str, Any]:
    base = "/" + _gv_path(r.group, version)
    collection = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    return {
        collection: {
            "get": _operation(r, version, "list", ("labelSelector", "fieldSelector", "watch")),
            "post": _operation(r, version, "post", _WRITE_PARAMS),
        },
        f"{collection}/{{name}}": {
            "get": _operation(r, version, "get"),
            "put": _operation(r, version, "put", _WRITE_PARAMS),
            "patch": _operation(r, version, "patch", (*_WRITE_PARAMS, "force")),
            "delete": _operation(r, version, "delete", ("dryRun",)),
        },
    }


def document(served: Sequence[Resource], group: str, version: str) -> dict[str, Any] | None:
    """``/openapi/v3/api/v1``, ``/openapi/v3/apis/{group}/{version}``; None when not served."""
    here = [r for r in served if r.group == group and version in r.versions]
    if not here:
        return None
    paths: dict[str, Any] = {}
    for r in here:
        paths.update(_paths(r, version))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (labkit simulator)", "version": f"v{K8S_VERSION}"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root(served: Sequence[Resource]) -> dict[str, Any]:
    """``/openapi/v3``: where each group version's document is."""
    out: dict[str, Any] = {}
    for r in served:
        for version in r.versions:
            path = _gv_path(r.group, version)
            if path not in out:
                doc = document(served, r.group, version)
                digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
                out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest[:32].upper()}"}
    return {"paths": out}


def v2_document() -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes (labkit simulator)", "version": f"v{K8S_VERSION}"},
        "paths": {},
        "definitions": {},
    }
