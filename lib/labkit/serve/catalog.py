"""What the server serves right now: the built-in kinds, and the kind of each stored CustomResourceDefinition.

Applying a CRD adds its kind to discovery and makes its objects writable; deleting it removes both,
as on a real API server. The list is rebuilt only after a CRD was written or deleted (``Objects`` says
so): reading it costs a request nothing.
"""

from __future__ import annotations

from ..sim.store import ObjectStore
from . import crds
from .resources import APIEXTENSIONS, RESOURCES, Resource, lookup


class Catalog:
    """The served kinds of one server, read from its simulator's store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._served: tuple[Resource, ...] | None = None

    def changed(self) -> None:
        """A CRD was written or deleted: rebuild on the next read."""
        self._served = None

    def resources(self) -> tuple[Resource, ...]:
        """Every served kind: the built-in ones first, then the custom ones in CRD name order."""
        if self._served is None:
            custom = []
            taken = {(r.group, r.plural) for r in RESOURCES}  # a built-in kind wins over a CRD for it
            for crd in self.store.select(APIEXTENSIONS, "CustomResourceDefinition"):
                r = crds.resource_of(crd)
                if r is not None and (r.group, r.plural) not in taken:
                    custom.append(r)
                    taken.add((r.group, r.plural))
            self._served = (*RESOURCES, *custom)
        return self._served

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return lookup(self.resources(), group, version, plural)
