"""Backend choice: ``auto`` only picks a cluster whose context is a lab cluster and answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit import ContextNotAllowed, connect
from labkit.connect import detect
from labkit.errors import BackendUnavailable


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


def test_a_misspelt_context_is_refused_by_name(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "kind-istio-labs")  # the context of scripts/cluster-up.sh's kind cluster
    with pytest.raises(BackendUnavailable, match="did you mean 'kind-istio-labs'") as err:
        connect(backend="kube", context="kind-istio-lab", kubeconfig=path)
    assert "'kind-istio-lab'" in str(err.value) and "context='kind-istio-labs'" in err.value.hint


def test_auto_says_which_context_was_meant_when_it_falls_back(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "kind-istio-labs")
    backend, reason = detect(context="kind-istio-lab", kubeconfig=path)
    # the banner shows the reason's first line: the guess must be on it
    assert backend == "sim" and "did you mean 'kind-istio-labs'?" in reason.splitlines()[0]


def test_kube_backend_refuses_a_foreign_context_before_any_call(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)
    with pytest.raises(ContextNotAllowed, match="prod-eu"):
        connect(backend="kube", kubeconfig=kubeconfig(tmp_path, "prod-eu"), cleanup_on_error=False)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="sim, kube"):
        connect(backend="cloud")


# -- the banner's reason and title


def _banner_text(monkeypatch: pytest.MonkeyPatch, asked: str, **env: str) -> str:
    from rich.console import Console

    from labkit.connect import AUTO_CHOICE_VAR, AUTO_REASON_VAR

    for var in (AUTO_CHOICE_VAR, AUTO_REASON_VAR, "LABKIT_LAB", "LABKIT_RECORD_DIR"):
        monkeypatch.delenv(var, raising=False)
    names = {"choice": AUTO_CHOICE_VAR, "reason": AUTO_REASON_VAR}
    for key, value in env.items():
        monkeypatch.setenv(names[key], value)
    console = Console(record=True, width=200, color_system=None)
    connect(backend=asked, cleanup_on_error=False, console=console)
    return console.export_text()


def test_banner_keeps_the_reason_the_runner_chose_auto_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # `labkit run --backend auto` resolves auto once and injects "sim"; the banner says why.
    text = _banner_text(monkeypatch, "sim", choice="sim", reason="context kind-labs: connection refused")
    assert "chosen because: context kind-labs: connection refused" in text
    assert "was asked for" not in text


def test_banner_says_asked_for_when_the_runner_did_not_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "chosen because: backend='sim' was asked for" in _banner_text(monkeypatch, "sim")
    # The runner's choice was kube, but this notebook asked for sim itself: the runner's reason is not its.
    text = _banner_text(monkeypatch, "sim", choice="kube", reason="context kind-labs answers")
    assert "chosen because: backend='sim' was asked for" in text


def test_unnamed_lab_is_not_titled_lab_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _banner_text(monkeypatch, "sim")
    title = text.splitlines()[0]
    assert " lab " in f" {title} " and "lab lab" not in title


# -- wrong names: a near miss names the right one


def test_a_misspelled_backend_names_the_right_one() -> None:
    from labkit import LabkitError, doctor_report

    with pytest.raises(LabkitError, match="did you mean 'sim'"):
        connect(backend="simm")
    with pytest.raises(LabkitError, match="did you mean 'kube'"):
        doctor_report("kub")


def test_a_misspelled_lab_names_the_right_one_and_own_names_stay_free() -> None:
    from rich.console import Console

    from labkit import LabkitError

    with pytest.raises(LabkitError, match="did you mean '01-external-access'"):
        connect(backend="sim", lab="01-external-acess", cleanup_on_error=False)
    lab = connect(backend="sim", lab="scratch", cleanup_on_error=False, console=Console(quiet=True))
    assert lab.name == "scratch"


def test_a_misspelled_sim_option_names_the_right_one() -> None:
    from labkit import LabkitError

    with pytest.raises(LabkitError, match="did you mean 'egress_gateway'"):
        connect(backend="sim", sim_options={"egress_gatway": False}, cleanup_on_error=False)
    # meshConfig.outboundTrafficPolicy.mode is ALLOW_ANY or REGISTRY_ONLY (Istio MeshConfig reference).
    with pytest.raises(LabkitError, match="did you mean 'REGISTRY_ONLY'"):
        connect(backend="sim", sim_options={"outbound_policy": "REGISTRY"}, cleanup_on_error=False)
