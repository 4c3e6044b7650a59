"""Where the project's files live, so notebooks can name manifests by lab."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: lib/labkit/paths.py -> ../../
ROOT = Path(__file__).resolve().parents[2]
LABS = ROOT / "labs"
NOTEBOOKS = ROOT / "notebooks"


def lab_file(lab: str, name: str) -> Path:
    """A file under ``labs/<lab>/``, e.g. ``lab_file("01-external-access", "httpbin-se.yaml")``."""
    path = LABS / lab / name
    if not path.is_file():
        from .errors import UnknownChoice

        if not (LABS / lab).is_dir():
            labs = sorted(p.name for p in LABS.iterdir() if p.is_dir())
            raise UnknownChoice("lab", lab, labs, fix="`labkit list` shows the labs")
        files = sorted(p.name for p in (LABS / lab).iterdir() if p.is_file())
        raise UnknownChoice(f"file of lab {lab}", name, files, fix=f"the files are under {LABS / lab}")
    return path


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
