"""Istio's names labkit refers to, and the one reader of its mesh config.

istiod reads meshConfig from the ``mesh`` key of the ``istio`` ConfigMap in its namespace
(https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/); Istio's traffic kinds
(ServiceEntry, VirtualService, ...) are in the ``networking.istio.io`` API group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from .errors import LabkitError

#: The API group of Istio's traffic management kinds.
ISTIO_NETWORKING_GROUP = "networking.istio.io"
#: The ConfigMap istiod reads meshConfig from, and the key that holds it.
MESH_CONFIGMAP = "istio"
MESH_KEY = "mesh"
#: meshConfig.outboundTrafficPolicy.mode when the field is unset (istio.mesh.v1alpha1 reference).
DEFAULT_OUTBOUND_POLICY = "ALLOW_ANY"


class MeshConfigError(LabkitError):
    """The ConfigMap's ``mesh`` text is not a YAML mapping."""


def mesh_text(configmap: Mapping[str, Any] | None) -> str:
    """The ``mesh`` text of an ``istio`` ConfigMap ('' when the key or its data is missing)."""
    return str(((configmap or {}).get("data") or {}).get(MESH_KEY) or "")


def parse_mesh(text: str | None) -> dict[str, Any]:
    """meshConfig as a dict; empty text is an empty config (Istio's defaults).

    Raises MeshConfigError when the text is not YAML or not a mapping: callers decide whether that is
    an error to show (a lab, the doctor) or a config istiod would refuse (the simulator).
    """
    try:
        value = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise MeshConfigError(
            f"the {MESH_KEY} key of ConfigMap {MESH_CONFIGMAP} is not valid YAML: {exc}",
            hint=f"kubectl -n istio-system edit configmap {MESH_CONFIGMAP}",
        ) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MeshConfigError(
            f"the {MESH_KEY} key of ConfigMap {MESH_CONFIGMAP} holds a {type(value).__name__}, not a mapping",
            hint=f"kubectl -n istio-system edit configmap {MESH_CONFIGMAP}",
        )
    return value


def outbound_policy(mesh: Mapping[str, Any]) -> str:
    """meshConfig.outboundTrafficPolicy.mode, with Istio's default when it is unset."""
    return str((mesh.get("outboundTrafficPolicy") or {}).get("mode") or DEFAULT_OUTBOUND_POLICY)
