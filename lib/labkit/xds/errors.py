"""The one error the translator raises: config it does not translate, named by field."""

from __future__ import annotations

from ..errors import LabkitError


class TranslationError(LabkitError):
    """Istio config the Envoy translator does not turn into Envoy config (refused, never skipped)."""

    hint = "Remove or change the field named above, or run this on a kind cluster (backend kube)."
