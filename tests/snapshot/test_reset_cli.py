"""`labkit reset` on the command line: what it prints and its exit code."""

from __future__ import annotations

import importlib
import io
from typing import Any

import pytest
from rich.console import Console

from labkit import Lab, cli, lab_file
from labkit.kube import KubeBackend

CONNECT = importlib.import_module("labkit.connect")


def test_reset_cleans_a_cluster_a_dead_kernel_left(
    cluster: KubeBackend, dynamic: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def make_backend(name: str, **kwargs: Any) -> tuple[KubeBackend, str]:
        asked.append(name)
        return cluster, "asked for"

    monkeypatch.setattr(CONNECT, "make_backend", make_backend)
    lab = Lab(cluster, name="01-external-access", console=Console(file=io.StringIO()))
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")

    assert cli.main(["reset"]) == 0
    out = capsys.readouterr().out
    assert asked == ["kube"]  # kube by default: on the simulator there is never anything to reset
    assert "found: ServiceEntry/default/httpbin-ext (from lab 01-external-access) is still there" in out
    assert "found: mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)" in out
    assert "deleted ServiceEntry/default/httpbin-ext" in out
    assert "clean: the cluster is where the labs start." in out
    assert lab.outbound_policy() == "ALLOW_ANY"

    # Run again: nothing found, nothing done.
    assert cli.main(["reset"]) == 0
    out = capsys.readouterr().out
    assert "found:" not in out and "deleted" not in out


def test_reset_fails_when_something_stays(
    cluster: KubeBackend, dynamic: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(CONNECT, "make_backend", lambda name, **kwargs: (cluster, "asked for"))
    Lab(cluster, name="04-network-policy", console=Console(file=io.StringIO())).apply(
        lab_file("common", "namespace.yaml"), name="lab04"
    )
    key = ("v1", "Namespace", None, "lab04")
    original_get = dynamic.resources.get

    def resources_get(api_version: str, kind: str) -> Any:
        resource = original_get(api_version, kind)
        if kind == "Namespace":
            resource.delete = lambda **kw: dynamic.objects[key]["metadata"].update(deletionTimestamp="now")
        return resource

    dynamic.resources.get = resources_get
    assert cli.main(["reset", "--timeout", "0"]) == 1  # no waiting: the fake namespace never finishes
    out = capsys.readouterr().out
    assert "still there: Namespace/lab04 (from lab 04-network-policy, terminating) is still there" in out
    assert "run `labkit doctor`" in out


def test_reset_on_the_simulator_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reset", "--backend", "sim"]) == 0
    out = capsys.readouterr().out
    assert "nothing to reset: the simulator starts fresh in every kernel" in out
