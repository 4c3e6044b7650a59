"""The offline mesh simulator."""

from .backend import SimBackend
from .topology import ISTIO_VERSION, SimOptions

#: The Istio minor whose behaviour the simulator and the xds translator model (their sources cite
#: Istio 1.27.1); banners name it, so nobody takes the model for a newer Istio than it is.
MODELLED_ISTIO = ".".join(ISTIO_VERSION.split(".")[:2])

__all__ = ["MODELLED_ISTIO", "SimBackend", "SimOptions"]
