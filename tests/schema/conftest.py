"""Fixtures for the schema tests, and the skip-or-fail switch for optional reference files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit import paths
from labkit.paths import istio_crds


def require_or_skip(condition: object, reason: str) -> None:
    """Skip the test when ``condition`` is false; under ``CI=true`` fail instead, so CI never skips silently."""
    if condition:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true, so this is required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def crd_file() -> Path:
    """The published Istio CRD file beside the checkout (``../shared/istio/crd-all.gen.yaml``)."""
    path = istio_crds()
    require_or_skip(
        path is not None, "Istio CRD file not found (../shared/istio/crd-all.gen.yaml or LABKIT_ISTIO_CRDS)"
    )
    assert path is not None
    return path


@pytest.fixture(scope="session")
def gateway_api_crd_file() -> Path:
    """The published Gateway API CRDs beside the checkout (``../shared/istio/gateway-api-crd.yaml``).

    ``LABKIT_GATEWAY_API_CRDS`` overrides the path.
    """
    path = paths.gateway_api_crds()
    where = "../shared/istio/gateway-api-crd.yaml or LABKIT_GATEWAY_API_CRDS"
    require_or_skip(path is not None, f"Gateway API CRD file not found ({where})")
    assert path is not None
    return path
