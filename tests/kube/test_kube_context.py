"""The context guard: only kind clusters or explicitly allowed contexts, decided before any API call."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from labkit.errors import BackendUnavailable, ContextNotAllowed
from labkit.kube import KubeBackend, context


def test_refuses_a_non_kind_context_and_says_how_to_allow_it(kubeconfig):
    path = kubeconfig(["docker-desktop", "kind-x"], current="docker-desktop")
    with pytest.raises(ContextNotAllowed) as err:
        context.guard(kubeconfig=path)
    text = str(err.value)
    assert "'docker-desktop'" in text
    assert "allow_context='docker-desktop'" in text
    assert "export LABKIT_ALLOW_CONTEXT=docker-desktop" in text


def test_accepts_a_kind_context(kubeconfig):
    path = kubeconfig(["docker-desktop", "kind-x"], current="docker-desktop")
    assert context.guard("kind-x", kubeconfig=path) == "kind-x"
    assert context.check_allowed("kind-x") == "kind cluster"


def test_uses_the_current_context_when_none_is_given(kubeconfig):
    path = kubeconfig(["docker-desktop", "kind-istio-labs"], current="kind-istio-labs")
    assert context.guard(kubeconfig=path) == "kind-istio-labs"


def test_accepts_an_explicitly_allowed_context(kubeconfig):
    path = kubeconfig(["lab-cluster"])
    assert context.guard(kubeconfig=path, allow_context="lab-cluster") == "lab-cluster"
    assert context.check_allowed("lab-cluster", "lab-cluster") == "allowed by allow_context"
    # Allowing one name does not allow another.
    with pytest.raises(ContextNotAllowed):
        context.check_allowed("prod", "lab-cluster")


def test_accepts_the_context_named_by_the_environment(kubeconfig, monkeypatch):
    path = kubeconfig(["lab-cluster"])
    monkeypatch.setenv("LABKIT_ALLOW_CONTEXT", "lab-cluster")
    assert context.guard(kubeconfig=path) == "lab-cluster"
    assert context.check_allowed("lab-cluster") == "allowed by LABKIT_ALLOW_CONTEXT"
    with pytest.raises(ContextNotAllowed):
        context.check_allowed("other-cluster")


def test_kind_prefix_must_be_a_prefix():
    with pytest.raises(ContextNotAllowed):
        context.check_allowed("my-kind-cluster")


def test_unknown_context_lists_the_ones_there_are(kubeconfig):
    path = kubeconfig(["kind-a", "kind-b"])
    with pytest.raises(BackendUnavailable) as err:
        context.resolve_context("kind-c", path)
    assert "kind-a, kind-b" in str(err.value)


def test_a_misspelt_context_names_the_one_meant_and_the_fix(kubeconfig):
    # scripts/cluster-up.sh creates the kind cluster "istio-labs"; kind names its context kind-istio-labs.
    path = kubeconfig(["docker-desktop", "kind-istio-labs"])
    with pytest.raises(BackendUnavailable) as err:
        context.resolve_context("kind-istio-lab", path)
    message = str(err.value).splitlines()[0]
    assert "'kind-istio-lab'" in message and "did you mean 'kind-istio-labs'?" in message
    assert "docker-desktop, kind-istio-labs" in message
    assert err.value.hint.startswith("Pass context='kind-istio-labs'")


def test_a_context_nothing_resembles_says_how_to_list_them(kubeconfig):
    path = kubeconfig(["docker-desktop"])
    with pytest.raises(BackendUnavailable) as err:
        context.resolve_context("kind-zzz", path)
    assert "did you mean" not in str(err.value) and "kubectl config get-contexts" in err.value.hint


def test_missing_kubeconfig_is_backend_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable) as err:
        context.resolve_context(kubeconfig=str(tmp_path / "nope"))
    assert "kind create cluster" in str(err.value)


def test_kubeconfig_env_var_is_read_at_call_time(kubeconfig, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", kubeconfig(["kind-from-env"]))
    assert context.resolve_context() == "kind-from-env"


def test_backend_refuses_before_building_any_client(kubeconfig, monkeypatch):
    path = kubeconfig(["docker-desktop"])
    built = []
    monkeypatch.setattr(context, "load_configuration", lambda *a, **k: built.append(a))
    with pytest.raises(ContextNotAllowed):
        KubeBackend(kubeconfig=path)
    assert built == []


def test_backend_on_a_kind_context(kubeconfig):
    backend = KubeBackend(kubeconfig=kubeconfig(["kind-istio-labs"]))
    assert backend.describe() == "kube context kind-istio-labs"
    assert (backend.name, backend.simulated, backend.istio_namespace) == ("kube", False, "istio-system")
    assert backend.clients.api_client.configuration.host == "https://127.0.0.1:1"


def test_backend_with_an_allowed_context_and_an_injected_client(kubeconfig):
    from kubernetes import client as k8s

    api_client = k8s.ApiClient(k8s.Configuration(host="https://lab.example:6443"))
    backend = KubeBackend(
        "lab-cluster",
        kubeconfig=kubeconfig(["lab-cluster"]),
        allow_context="lab-cluster",
        api_client=api_client,
    )
    assert backend.clients.api_client is api_client
    assert backend.allowed_because == "allowed by allow_context"


def test_probe_says_no_without_raising_when_nothing_listens(kubeconfig):
    start = time.monotonic()
    ok, reason = context.probe(kubeconfig=kubeconfig(["kind-x"]), timeout=2.0)
    assert ok is False
    assert "kind-x" in reason or "(current)" in reason
    assert time.monotonic() - start < 10


def test_probe_says_no_for_a_missing_kubeconfig(tmp_path):
    ok, reason = context.probe(kubeconfig=str(tmp_path / "missing"))
    assert ok is False
    assert "kubeconfig" in reason


def test_probe_asks_for_the_version_with_the_timeout(kubeconfig, monkeypatch):
    seen = {}

    class Version:
        def __init__(self, api_client):
            seen["host"] = api_client.configuration.host

        def get_code(self, **kwargs):
            seen.update(kwargs)
            return SimpleNamespace(git_version="v1.31.0")

    monkeypatch.setattr(context.k8s, "VersionApi", Version)
    ok, reason = context.probe("kind-x", kubeconfig(["kind-x"]), timeout=1.5)
    assert ok is True
    assert "v1.31.0" in reason and "kind-x" in reason
    assert seen == {"host": "https://127.0.0.1:1", "_request_timeout": 1.5}
