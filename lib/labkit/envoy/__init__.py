"""The envoy backend's data plane: real Envoy and real curl in network namespaces on this machine.

``DataPlane.start()`` builds a run; ``add_pod`` / ``add_gateway`` add pods; ``Pod.curl`` runs curl in a
pod; ``pod.proxy.xds.apply(...)`` hands a proxy its listeners, clusters, routes and secrets.
``reset()`` removes what a crashed run left behind.
"""

from .capture import CaptureConfig
from .plane import DataPlane, Pod
from .preflight import EnvoyBackendUnavailable
from .reset import ResetReport, reset

__all__ = ["CaptureConfig", "DataPlane", "EnvoyBackendUnavailable", "Pod", "ResetReport", "reset"]
