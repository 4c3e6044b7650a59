"""``labkit run`` stopped by SIGTERM or SIGHUP (``timeout``, a cancelled CI job, a closed terminal)
cleans the cluster as Ctrl-C does, and its exit code says which signal stopped it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from labkit import paths
from labkit.kube import KubeBackend
from labkit.serve import ApiServer
from labkit.snapshot import take


def _mesh_mode(snapshot_mesh: str | None) -> str:
    return ((yaml.safe_load(snapshot_mesh or "") or {}).get("outboundTrafficPolicy") or {}).get("mode", "ALLOW_ANY")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_mid_lab_restores_the_cluster(tmp_path: Path, signum: signal.Signals) -> None:
    with ApiServer() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        cluster = KubeBackend(kubeconfig=str(kubeconfig))
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "PYTHONPATH": os.pathsep.join([str(paths.ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
        }
        command = [sys.executable, "-m", "labkit.cli", "run", "01", "--backend", "kube", "-q", "--out", str(tmp_path)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                now = take(cluster)
                if _mesh_mode(now.mesh) == "REGISTRY_ONLY" and now.managed:
                    break  # mid-lab: the mesh changed and the lab's objects are there
                time.sleep(0.2)
            assert process.poll() is None, "the lab ended before it changed the cluster"
            process.send_signal(signum)
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        after = take(cluster)
        cluster.close()
    # GNU Bash manual, Exit Status: a command ended by fatal signal N exits with 128 + N (143 for SIGTERM).
    assert process.returncode == 128 + signum, output[-2000:]
    assert after.managed == (), after.managed
    assert _mesh_mode(after.mesh) == "ALLOW_ANY"
