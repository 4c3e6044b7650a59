"""Istio config → Envoy config: what istiod would send one proxy, built from the simulator's model.

``sidecar_config`` and ``gateway_config`` translate the config a proxy sees (``Mesh.view_for``) into
Envoy listeners, route configurations, clusters and the SDS secret names they use, with the names
and shapes istiod (Istio 1.27) gives them. ``proxy_config`` renders one section as Envoy's admin
config_dump. ``delivery`` turns a translation into a static bootstrap or file-watched xDS files.
"""

from __future__ import annotations

from .config import EnvoyConfig
from .dump import proxy_config
from .errors import TranslationError
from .translate import gateway_config, sidecar_config, translate

__all__ = ["EnvoyConfig", "TranslationError", "gateway_config", "proxy_config", "sidecar_config", "translate"]
