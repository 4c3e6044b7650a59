"""Wrong values to public functions raise LabkitError naming the closest valid value and the fix."""

from __future__ import annotations

import pytest
from rich.console import Console

import labkit
from labkit import LabkitError, lab_file


def test_a_misspelled_outbound_policy_names_the_right_one() -> None:
    lab = labkit.connect(backend="sim", lab="test", console=Console(quiet=True))
    # meshConfig.outboundTrafficPolicy.mode accepts ALLOW_ANY and REGISTRY_ONLY (Istio MeshConfig reference).
    with pytest.raises(LabkitError, match="did you mean 'REGISTRY_ONLY'"):
        lab.set_outbound_policy("REGISTRY_0NLY")
    assert lab.outbound_policy() == "ALLOW_ANY"  # nothing changed


def test_a_misspelled_lab_file_or_lab_names_the_right_one() -> None:
    with pytest.raises(LabkitError, match=r"did you mean 'serviceentry-http\.yaml'"):
        lab_file("01-external-access", "serviceentry-htp.yaml")
    with pytest.raises(LabkitError, match="did you mean '01-external-access'"):
        lab_file("01-external-acess", "serviceentry-http.yaml")
