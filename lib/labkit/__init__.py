"""labkit: the helper library of the Istio Egress Labs notebooks."""

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
