"""Defer the one import that costs a second at every kernel start and that the labs never use.

``jsonschema`` (which labkit's manifest validation and nbformat both import) loads ``rfc3987_syntax``
when it is installed (Jupyter's event schemas pull it in) only to register the ``iri`` format
checkers. Importing it builds some forty Earley parsers, about a second of CPU, whether or not any
schema ever checks an ``iri``. Here the package is registered as a stand-in that imports the real
one the first time anything is asked of it, so the checkers behave exactly as before when used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

DEFERRED = "rfc3987_syntax"
_lock = threading.Lock()


def defer_iri_grammar() -> None:
    """Put the stand-in for ``rfc3987_syntax`` in place, unless it is already imported or absent."""
    if DEFERRED in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(DEFERRED)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    sys.modules[DEFERRED] = _stand_in(spec)


class _StandIn(types.ModuleType):
    """Looks like the package to ``from rfc3987_syntax import is_valid_syntax``; loads it on first use."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(real_module(), attr)


def _stand_in(spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    stand_in = _StandIn(DEFERRED)
    # Submodules (rfc3987_syntax.utils) still import from the package's own folder.
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    stand_in.__file__ = spec.origin
    stand_in.__spec__ = spec  # importlib.util.find_spec answers as for the real package

    def is_valid_syntax(term: str, value: str) -> bool:
        return bool(real_module().is_valid_syntax(term, value))

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    return stand_in


def real_module() -> types.ModuleType:
    """The real ``rfc3987_syntax``, imported now if only the stand-in was there."""
    with _lock:
        module = sys.modules.get(DEFERRED)
        if isinstance(module, _StandIn):
            del sys.modules[DEFERRED]
            try:
                module = importlib.import_module(DEFERRED)
            except BaseException:
                sys.modules[DEFERRED] = module  # keep the stand-in: the next use raises the same way
                raise
        assert module is not None
        return module
