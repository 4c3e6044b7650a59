"""Backend choice: ``auto`` only picks a cluster whose context is a lab cluster and answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit import ContextNotAllowed, connect
from labkit.connect import detect


def kubeconfig(tmp_path: Path, context: str) -> str:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return str(path)


def test_auto_falls_back_to_sim_when_the_lab_cluster_does_not_answer(tmp_path: Path) -> None:
    backend, reason = detect(kubeconfig=kubeconfig(tmp_path, "kind-labs"))
    assert backend == "sim"
    assert reason.startswith("context kind-labs:")


def test_auto_never_uses_a_context_that_is_not_a_lab_cluster(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)
    backend, reason = detect(kubeconfig=kubeconfig(tmp_path, "prod-eu"))
    assert backend == "sim" and "prod-eu" in reason


def test_kube_backend_refuses_a_foreign_context_before_any_call(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)
    with pytest.raises(ContextNotAllowed, match="prod-eu"):
        connect(backend="kube", kubeconfig=kubeconfig(tmp_path, "prod-eu"), cleanup_on_error=False)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="sim, kube"):
        connect(backend="cloud")
