"""Fixtures for the snapshot tests: the kube client fakes (shared with tests/kube) and a simulator.

The kube fakes live in tests/kube/conftest.py; pytest only hands a conftest's fixtures to tests below
it, so this one loads that module under its own name and re-exports the fixtures it needs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from labkit.kube import KubeBackend
from labkit.sim import SimBackend


def _load_kube_fakes() -> Any:
    name = "labkit_tests_kube_fakes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "kube" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_fakes = _load_kube_fakes()
kubeconfig = _fakes.kubeconfig
dynamic = _fakes.dynamic
fakes = _fakes.fakes
models = _fakes.models
backend = _fakes.backend
_no_ambient_allow = _fakes._no_ambient_allow

MESH = "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n"

#: Every kind the labs create, as the fake API server should serve them (kind -> namespaced).
SERVED = {
    ("v1", "Service"): True,
    ("v1", "ServiceAccount"): True,
    ("v1", "Secret"): True,
    ("networking.k8s.io/v1", "NetworkPolicy"): True,
    ("networking.istio.io/v1", "VirtualService"): True,
    ("networking.istio.io/v1", "DestinationRule"): True,
}


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


@pytest.fixture
def cluster(backend: KubeBackend, dynamic: Any) -> KubeBackend:
    """A KubeBackend on kind-labs whose dynamic client holds a freshly set-up lab cluster: the ``istio``
    ConfigMap with ALLOW_ANY, and the Istio namespace, kube-system and default."""
    dynamic.kinds.update(SERVED)
    dynamic.objects[("v1", "ConfigMap", "istio-system", "istio")] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system", "labels": {"app": "istiod"}},
        "data": {"mesh": MESH},
    }
    for ns in ("istio-system", "kube-system"):
        dynamic.objects[("v1", "Namespace", None, ns)] = _namespace(ns)
    dynamic.objects[("v1", "Namespace", None, "default")] = _namespace("default", **{"istio-injection": "enabled"})
    # The doctor reads the mesh config through the typed API; keep both views of the cluster the same.
    backend.clients.core.configmaps[("istio-system", "istio")] = k8s.V1ConfigMap(data={"mesh": MESH})
    return backend


@pytest.fixture
def sim() -> SimBackend:
    return SimBackend()
