"""The offline mesh simulator."""

from .backend import SimBackend
from .topology import SimOptions

__all__ = ["SimBackend", "SimOptions"]
