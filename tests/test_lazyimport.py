"""The deferred ``rfc3987_syntax``: not loaded by importing labkit and jsonschema, yet the ``iri``
format checks answer as the real package does once used."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("rfc3987_syntax") is None, reason="rfc3987_syntax is not installed"
)

PROBE = """
import sys
import labkit, jsonschema
from labkit.lazyimport import _StandIn
print(isinstance(sys.modules["rfc3987_syntax"], _StandIn))
checker = jsonschema.FormatChecker()
# RFC 3987 section 2.2: ucschar (U+00A0 and up) may appear in an ipath; a space may appear nowhere.
print(checker.conforms("http://example.org/\\u00e4", "iri"), checker.conforms("http://exa mple.org/", "iri"))
print(isinstance(sys.modules["rfc3987_syntax"], _StandIn))
"""


def test_jsonschema_import_leaves_the_grammar_unbuilt_until_an_iri_is_checked() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "False", "False"]


def test_submodules_still_import_through_the_stand_in() -> None:
    code = "import labkit, rfc3987_syntax.utils as u; print(callable(u.load_grammar))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
