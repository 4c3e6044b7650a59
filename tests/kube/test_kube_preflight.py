"""A cluster that does not answer (a stopped kind cluster) is one clear error with the fixing command,
before a notebook or a lab starts, instead of a long traceback at the first call."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit import connect, paths
from labkit.errors import BackendUnavailable
from labkit.serve import ApiServer


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """The kubeconfig of a ``kind-labkit-sim`` cluster that has stopped: nothing listens on its port."""
    server = ApiServer()
    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    server.stop()
    return path


def test_connect_to_a_stopped_cluster_fails_fast_with_doctors_fix(dead_kubeconfig: Path) -> None:
    start = time.monotonic()
    with pytest.raises(BackendUnavailable) as failed:
        connect(backend="kube", kubeconfig=str(dead_kubeconfig))
    assert time.monotonic() - start < 10
    message = str(failed.value)
    assert "kind-labkit-sim did not answer" in message
    # kind runs each node as a docker container named <cluster>-control-plane
    # (https://kind.sigs.k8s.io/docs/user/quick-start/): starting it again brings the API server back.
    assert "docker start labkit-sim-control-plane" in message
    assert len(message.splitlines()) <= 4, message


def test_labkit_run_on_a_stopped_cluster_starts_no_notebook(dead_kubeconfig: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "KUBECONFIG": str(dead_kubeconfig),
        "PYTHONPATH": os.pathsep.join([str(paths.ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "labkit.cli", "run", "01", "--backend", "kube", "-q", "--out", str(out)]
    ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "docker start labkit-sim-control-plane" in ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    assert not out.exists() or not list(out.glob("*.ipynb"))
