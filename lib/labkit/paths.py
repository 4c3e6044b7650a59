"""Where the project's files live, so notebooks can name manifests by lab."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: lib/labkit/paths.py -> ../../
ROOT = Path(__file__).resolve().parents[2]
#: The project's own labs and notebooks.
LABS = ROOT / "labs"
NOTEBOOKS = ROOT / "notebooks"
#: Variables that point labkit at labs kept elsewhere (a course of your own, or a test's throwaway lab).
LABS_DIR_VAR, NOTEBOOKS_DIR_VAR = "LABKIT_LABS_DIR", "LABKIT_NOTEBOOKS_DIR"


def labs_dir() -> Path:
    """Where labs' data (``<lab>/lab.yaml`` and manifests) live: ``$LABKIT_LABS_DIR``, else ``labs/``."""
    return Path(os.environ.get(LABS_DIR_VAR) or LABS)


def notebooks_dir() -> Path:
    """Where lab notebooks live: ``$LABKIT_NOTEBOOKS_DIR``, else ``notebooks/``."""
    return Path(os.environ.get(NOTEBOOKS_DIR_VAR) or NOTEBOOKS)


def lab_file(lab: str, name: str) -> Path:
    """A file under ``labs/<lab>/``, e.g. ``lab_file("01-external-access", "httpbin-se.yaml")``.

    With ``LABKIT_LABS_DIR`` set, that directory is searched first, then the project's ``labs/`` (so
    a lab kept elsewhere still finds the shared ``common`` manifests).
    """
    roots = list(dict.fromkeys([labs_dir(), LABS]))
    for root in roots:
        if (root / lab / name).is_file():
            return root / lab / name
    from .errors import UnknownChoice

    home = next((r / lab for r in roots if (r / lab).is_dir()), None)
    if home is None:
        labs = sorted({p.name for r in roots if r.is_dir() for p in r.iterdir() if p.is_dir()})
        raise UnknownChoice("lab", lab, labs, fix="`labkit list` shows the labs")
    files = sorted(p.name for p in home.iterdir() if p.is_file())
    raise UnknownChoice(f"file of lab {lab}", name, files, fix=f"the files are under {home}")


def world_file() -> Path:
    """The simulated internet outside the cluster: ``labs/common/world.yaml``."""
    return LABS / "common" / "world.yaml"


def istio_crds() -> Path | None:
    """The published Istio CRD file, when one is available beside the project (used by validation).

    ``LABKIT_ISTIO_CRDS`` overrides; otherwise ``../shared/istio/crd-all.gen.yaml`` next to the checkout.
    """
    env = os.environ.get("LABKIT_ISTIO_CRDS")
    candidates = [Path(env)] if env else [ROOT.parent / "shared" / "istio" / "crd-all.gen.yaml"]
    return next((p for p in candidates if p.is_file()), None)


def gateway_api_crds() -> Path | None:
    """The published Kubernetes Gateway API CRD bundle, when one is available (used by validation tests).

    ``LABKIT_GATEWAY_API_CRDS`` overrides; otherwise ``gateway-api-crd.yaml`` beside the Istio CRDs
    (``../shared/istio/``).
    """
    env = os.environ.get("LABKIT_GATEWAY_API_CRDS")
    candidates = [Path(env)] if env else [ROOT.parent / "shared" / "istio" / "gateway-api-crd.yaml"]
    return next((p for p in candidates if p.is_file()), None)
