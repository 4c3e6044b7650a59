"""Which Jupyter kernel the runner uses, what it starts it with, and that its start is quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.runner import (
    AUTO_CHOICE_VAR,
    AUTO_REASON_VAR,
    FALLBACK_KERNEL,
    LAB_KERNEL,
    LabInfo,
    choose_kernel,
    kernel_env,
    run_labs,
)


def test_the_readme_kernel_is_preferred() -> None:
    # The README says `make venv` registers a Jupyter kernel; the Makefile names it KERNEL_NAME := labkit.
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    assert f"KERNEL_NAME := {LAB_KERNEL}" in makefile
    assert choose_kernel(None, installed={"python3", LAB_KERNEL}) == (LAB_KERNEL, "")


def test_fallback_says_why() -> None:
    name, note = choose_kernel(None, installed={"python3"})
    assert name == FALLBACK_KERNEL
    assert "not installed" in note and "make venv" in note


def test_an_asked_for_kernel_wins() -> None:
    assert choose_kernel("other", installed={LAB_KERNEL}) == ("other", "")


def test_kernel_env_carries_the_auto_reason(tmp_path: Path) -> None:
    lab = LabInfo(name="01-x", path=tmp_path / "01-x.ipynb", number=1)
    env = kernel_env(lab, tmp_path, "auto", "sim", "no usable kube context (ConfigException: none)")
    assert env["LABKIT_LAB"] == "01-x" and env["LABKIT_RECORD_DIR"] == str(tmp_path)
    assert env[AUTO_CHOICE_VAR] == "sim"
    assert env[AUTO_REASON_VAR].startswith("no usable kube context")
    # Asked for by name: the kernel's own reason (backend='sim' was asked for) is the true one.
    assert AUTO_REASON_VAR not in kernel_env(lab, tmp_path, "sim", "sim", "whatever")


def test_no_unencrypted_transport_warning(notebooks: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # ipykernel logs this warning when its manager provisions no CurveZMQ keys (ipykernel/kernelapp.py,
    # init_sockets); the kernel writes it to the stderr it inherits from the runner.
    summary = run_labs(["01"], "sim", tmp_path, notebooks_dir=notebooks, progress=False)
    assert summary.passed
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
