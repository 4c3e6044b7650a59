"""labkit: the helper library of the Istio Egress Labs notebooks."""

from .lazyimport import defer_iri_grammar

defer_iri_grammar()  # before anything imports jsonschema: it saves a second per kernel start

# ruff: noqa: E402
from .checks import Check, CheckTable, ExpectationFailed
from .connect import connect, doctor_report
from .errors import ContextNotAllowed, LabkitError, ManifestError, NotReady
from .lab import Lab
from .manifests import Ref
from .paths import lab_file
from .result import CurlResult

__all__ = [
    "Check",
    "CheckTable",
    "ContextNotAllowed",
    "CurlResult",
    "ExpectationFailed",
    "Lab",
    "LabkitError",
    "ManifestError",
    "NotReady",
    "Ref",
    "connect",
    "doctor_report",
    "lab_file",
]
